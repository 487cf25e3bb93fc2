//! `nstrace probe`: which method each hook gets on this kernel, and why the
//! others were passed over. It loads and attaches for real, then detaches:
//! a method that looks available but fails to attach is reported as failed,
//! never as chosen.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Result;
use serde::Serialize;

use crate::{
    coverage,
    hooks::Method,
    loader::{self, LoadOptions, Session},
    sanitize::Esc,
};

#[derive(clap::Args, Debug, Clone)]
pub struct ProbeArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Consider only this method: fentry, kprobe or tracepoint.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Kernel BTF to read structure layouts from.
    #[arg(long, value_name = "PATH", default_value = crate::loader::SYSFS_BTF)]
    pub btf: PathBuf,
}

#[derive(Serialize)]
struct HookReport {
    hook: &'static str,
    reports: &'static str,
    method: String,
    /// Where its programs are attached (`tracepoint:syscalls:sys_exit_unshare`,
    /// `fexit:ksys_unshare`, ...): what a benchmark puts empty programs on
    /// to measure the floor of these hooks.
    attached: Vec<String>,
    rejected: Vec<Rejected>,
}

#[derive(Serialize)]
struct Rejected {
    method: String,
    reason: String,
}

#[derive(Serialize)]
struct ProbeReport {
    kernel: String,
    btf: String,
    ns_id: bool,
    hooks: Vec<HookReport>,
    /// Per type: `exact`, `late` or `not visible`, and how.
    deaths: Vec<DeathCoverage>,
}

#[derive(Serialize)]
struct DeathCoverage {
    #[serde(rename = "type")]
    ns_type: &'static str,
    coverage: &'static str,
    how: String,
}

pub fn run(args: &ProbeArgs) -> Result<ExitCode> {
    crate::privileges::require("nstrace probe", &[crate::privileges::LOAD])?;
    let session = loader::load(&LoadOptions {
        btf_path: args.btf.clone(),
        method: args.method,
        ..LoadOptions::default()
    })?;
    let report = build(&session);
    drop(session);
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&report)?;
        json.push('\n');
        json
    } else {
        render(&report)
    };
    crate::stdout::print(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn build(session: &Session) -> ProbeReport {
    ProbeReport {
        kernel: session.kernel_release.clone(),
        btf: session.btf_path.display().to_string(),
        ns_id: session.offsets.ns_common_ns_id != tracer_common::OFFSET_ABSENT,
        hooks: session
            .choices
            .iter()
            .map(|c| HookReport {
                hook: c.hook.name,
                reports: c.hook.reports,
                method: if c.not_needed {
                    "not needed".to_string()
                } else {
                    c.method.map_or("missing", Method::name).to_string()
                },
                attached: c.attached.iter().map(|a| a.target()).collect(),
                rejected: c
                    .rejected
                    .iter()
                    .map(|(m, why)| Rejected {
                        method: m.name().to_string(),
                        reason: why.clone(),
                    })
                    .collect(),
            })
            .collect(),
        deaths: death_coverage(session),
    }
}

/// How each type's death is seen on this kernel, from the hooks attached.
fn death_coverage(session: &Session) -> Vec<DeathCoverage> {
    coverage::of_run(&session.methods(), &session.kernel_release)
        .into_iter()
        .map(|c| DeathCoverage {
            ns_type: c.ns_type.name(),
            coverage: c.coverage.name(),
            how: c.how,
        })
        .collect()
}

fn render(r: &ProbeReport) -> String {
    let mut s = format!(
        "kernel {}\nBTF    {} ({})\n\n{:<22} {:<11} {}\n",
        Esc(&r.kernel),
        Esc(&r.btf),
        if r.ns_id {
            "ns_common.ns_id present: 64-bit namespace ids reported"
        } else {
            "no ns_common.ns_id: namespaces identified by inode and generation"
        },
        "HOOK",
        "METHOD",
        "REPORTS"
    );
    for h in &r.hooks {
        s.push_str(&format!("{:<22} {:<11} {}\n", h.hook, h.method, h.reports));
        for rej in &h.rejected {
            s.push_str(&format!(
                "{:<22} {:<11} not used: {}\n",
                "",
                rej.method,
                Esc(&rej.reason)
            ));
        }
    }
    s.push_str("\nDEATHS\n");
    for d in &r.deaths {
        s.push_str(&format!("{:<22} {:<11} {}\n", d.ns_type, d.coverage, d.how));
    }
    let missing: Vec<&str> = r
        .hooks
        .iter()
        .filter(|h| h.method == "missing")
        .map(|h| h.hook)
        .collect();
    if !missing.is_empty() {
        s.push_str(&format!(
            "\nmissing on this kernel: {}\n",
            missing.join(", ")
        ));
    }
    s
}
