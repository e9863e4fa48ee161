//! ut_pex (BEP 11): to be written.
