//! ut_metadata (BEP 9): to be written.
