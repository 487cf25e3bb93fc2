//! nstrace: follow every Linux namespace from birth to death.
//!
//! The binary (`src/main.rs`) only parses arguments; everything it runs lives
//! here so the VM tests call the same code as the CLI.

pub mod agent;
pub mod btf;
pub mod capabilities;
pub mod cli;
pub mod container;
pub mod coverage;
pub mod decode;
pub mod discovery;
pub mod handoff;
pub mod hooks;
pub mod index;
pub mod kallsyms;
pub mod kernel_log;
pub mod lifecycle;
pub mod loader;
pub mod logfile;
pub mod metrics;
pub mod ns_types_arg;
pub mod offsets;
pub mod output;
pub mod pipeline;
pub mod privileges;
pub mod probe;
pub mod report;
pub mod sanitize;
pub mod schema;
pub mod slab;
pub mod startup;
pub mod stdout;
pub mod trace;
