//! The lifecycle engine: joins every event about one namespace into one
//! lifetime keyed by (type, inode, generation). (Being written: issue 4.)
