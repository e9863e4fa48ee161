//! KRPC messages of the DHT (BEP 5): to be written.
