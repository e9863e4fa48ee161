//! The DHT routing table (BEP 5): to be written.
