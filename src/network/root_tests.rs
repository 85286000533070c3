//! Root-only tests (filled below).
