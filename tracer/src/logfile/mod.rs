//! JSON Lines log files: line-atomic writing with rotation, and reading back.
//! (Being written: issue 6.)
