//! One pass over /proc/kallsyms at start. The kernel formats that file a
//! symbol at a time on every read (a quarter of a million lines on a
//! distro kernel); a pass took about 10 s in a TCG guest and 100 to 200 ms
//! on hardware, and start-up made two.

use std::{
    collections::HashSet,
    fs,
    io::{BufRead, BufReader},
    path::Path,
};

use tracer_common::WorkFunctions;

/// What start-up keeps of the symbol table.
#[derive(Debug, Clone)]
pub struct Kallsyms {
    /// The names among those asked for that the kernel has.
    pub present: HashSet<String>,
    /// Addresses of the work functions that free namespaces (workqueue
    /// tracepoint programs compare `work->func` with them); a function this
    /// kernel lacks stays 0, and so do all of them without CAP_SYSLOG,
    /// which shows every address as zero.
    pub work: WorkFunctions,
}

impl Kallsyms {
    /// Reads `path` (normally /proc/kallsyms) a line at a time, keeping
    /// only the names in `wanted`; None if it cannot be read.
    pub fn read(path: &Path, wanted: &HashSet<&str>) -> Option<Kallsyms> {
        let mut file = BufReader::with_capacity(64 << 10, fs::File::open(path).ok()?);
        let mut out = Kallsyms {
            present: HashSet::new(),
            work: WorkFunctions::unset(),
        };
        let mut line = String::new();
        loop {
            line.clear();
            if file.read_line(&mut line).ok()? == 0 {
                return Some(out);
            }
            // address type name [module]
            let mut f = line.split_whitespace();
            let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let slot = match name {
                "cleanup_net" => Some(&mut out.work.cleanup_net),
                "free_user_ns" => Some(&mut out.work.free_user_ns),
                "destroy_pid_namespace_work" => Some(&mut out.work.destroy_pid_namespace_work),
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = u64::from_str_radix(addr, 16).unwrap_or(0);
            }
            if wanted.contains(name) {
                out.present.insert(name.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_wanted_names_and_the_work_functions_addresses() {
        let dir = std::env::temp_dir().join(format!("nstrace-kallsyms-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kallsyms");
        fs::write(
            &path,
            "ffffffff81000000 T cleanup_net\n\
             ffffffff81000010 t free_uts_ns\n\
             ffffffff81000020 T other_fn [some_module]\n\
             0000000000000000 t free_user_ns\n\
             short line\n",
        )
        .unwrap();
        let wanted: HashSet<&str> = ["cleanup_net", "other_fn", "absent_fn", "T"]
            .into_iter()
            .collect();
        let k = Kallsyms::read(&path, &wanted).unwrap();
        let mut found: Vec<&str> = k.present.iter().map(String::as_str).collect();
        found.sort_unstable();
        assert_eq!(found, ["cleanup_net", "other_fn"]);
        assert_eq!(k.work.cleanup_net, 0xffff_ffff_8100_0000);
        // Listed with a zero address (no CAP_SYSLOG): unknown.
        assert_eq!(k.work.free_user_ns, 0);
        assert_eq!(k.work.destroy_pid_namespace_work, 0);
        assert!(Kallsyms::read(&dir.join("missing"), &wanted).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
