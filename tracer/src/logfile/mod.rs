//! JSON Lines log files: line-atomic writing with size-based rotation, and
//! reading them back in order with every bad line reported by file and line.

mod checks;
mod create;
mod header;
mod input;
mod order;
mod reader;
mod rotate;
mod version;
mod wallclock;
mod writer;

pub use header::header_record;
pub use input::STDIN_NAME;
pub use reader::{read_logs, LogRead, LogReader, Problem};
pub use version::{is_newer_than_ours, OUR_VERSION};
pub use wallclock::parse_rfc3339;
pub use writer::{LogWriter, Rotation};
