//! Integration test bench (see tests/).
