//! Access control.
