//! Multitracker announcing (BEP 12): to be written.
