//! Tests of the piece picker.
