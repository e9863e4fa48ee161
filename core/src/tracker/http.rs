//! HTTP tracker announce and scrape (BEP 3, BEP 23, BEP 7): to be written.
