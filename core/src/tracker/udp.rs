//! UDP tracker protocol (BEP 15): to be written.
