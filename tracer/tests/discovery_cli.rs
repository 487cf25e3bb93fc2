//! What a user sees from `nstrace why` and `nstrace ls` on bad input, and
//! the documented exit codes. Run as root:
//! `cargo test -p tracer --test discovery_cli -- --test-threads=1`.

mod discovery_support;

use discovery_support::*;

#[test]
fn unknown_spec_names_the_accepted_forms() {
    let (code, _, err) = nstrace(&["why", "banana"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "nstrace: \"banana\" is not a namespace: give an inode number (4026531840), \
         TYPE:[INODE] (net:[4026531840]) or a namespace file (/proc/PID/ns/net, /run/netns/NAME)"
    );
}

#[test]
fn malformed_typed_spec_says_how_to_write_it() {
    let (code, _, err) = nstrace(&["why", "net:[x]"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "\"net:[x]\": malformed namespace: \"x\" is not an inode number; \
             write it as net:[INODE], e.g. net:[4026531840]"
        ),
        "{err}"
    );
    let (code, _, err) = nstrace(&["why", "bogus:[4026531840]"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown namespace type \"bogus\"; types are mnt, uts, ipc, pid, net, user, cgroup, time"),
        "{err}"
    );
}

#[test]
fn path_that_is_not_nsfs_is_refused() {
    let (code, _, err) = nstrace(&["why", "/etc/hostname"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/etc/hostname is not a namespace file (nsfs)"),
        "{err}"
    );
    let (code, _, err) = nstrace(&["why", "/no/such/file"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/no/such/file: cannot read it: No such file or directory"),
        "{err}"
    );
}

#[test]
fn dead_namespace_exits_1() {
    let x = spawn_in(libc::CLONE_NEWUTS);
    let inum = ns_of(x.pid(), "uts");
    x.kill();
    // uts namespaces are freed synchronously at the last put, so the number
    // is released now (another test creating a namespace this instant could
    // reuse it: the allocator hands out the lowest free number).
    let spec = format!("uts:[{inum}]");
    let (code, out, err) = nstrace(&["why", &spec]);
    assert_eq!(code, 1, "stdout: {out}");
    assert!(
        err.contains(&format!(
            "no live namespace is uts:[{inum}]: it is dead, or was never a namespace"
        )),
        "{err}"
    );
    let (code, _, err) = nstrace(&["why", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("no live namespace is inode 1"), "{err}");
}

#[test]
fn unknown_ls_type_lists_valid_ones() {
    let (code, _, err) = nstrace(&["ls", "-t", "net,foo"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "nstrace: -t \"foo\": unknown namespace type; valid types are mnt, uts, ipc, pid, net, user, cgroup, time"
    );
}

#[test]
fn help_documents_exit_codes() {
    let (code, out, _) = nstrace(&["why", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("1  no live namespace matches NS"), "{out}");
    assert!(out.contains("2  error"), "{out}");
}

#[test]
fn ls_types_filter_and_tree_show_our_namespaces() {
    let me = std::process::id();
    let net = ns_of(me, "net");
    let user = ns_of(me, "user");
    let (code, out, _) = nstrace(&["ls", "-t", "net", "-t", "user"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with(&format!("{net} net"))),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with(&format!("{user} user"))),
        "{out}"
    );
    assert!(!out.lines().skip(1).any(|l| l.contains(" uts ")), "{out}");
    let (code, out, _) = nstrace(&["ls", "--tree", "-t", "net"]);
    assert_eq!(code, 0);
    // Our netns hangs under its owner, our user namespace.
    let user_line = out
        .lines()
        .position(|l| l.contains(&format!("user:[{user}]")))
        .unwrap();
    let net_line = out
        .lines()
        .position(|l| l.contains(&format!("net:[{net}]")))
        .unwrap();
    assert!(net_line > user_line, "{out}");
    assert!(
        out.lines().nth(net_line).unwrap().contains("─net:["),
        "{out}"
    );
}
