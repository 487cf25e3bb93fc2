//! nstrace: follow every Linux namespace from birth to death.
//!
//! The binary (`src/main.rs`) only parses arguments; everything it runs lives
//! here so the VM tests call the same code as the CLI.

pub mod cli;
pub mod decode;
pub mod discovery;
pub mod lifecycle;
pub mod logfile;
pub mod report;
pub mod schema;
