//! Empty library target: it lets `tracer` name this crate as a
//! build-dependency, so cargo rebuilds the programs when it changes.
#![no_std]
