//! A reader for the kernel's BTF (/sys/kernel/btf/vmlinux): just enough to
//! find struct member offsets by name and to check that a function exists
//! with the parameters we expect.
//!
//! Format: include/uapi/linux/btf.h and Documentation/bpf/btf.rst (v6.1 to
//! v6.18: kinds 1..=19, unchanged encodings). aya-obj parses BTF too, but its
//! type accessors are crate-private, and a member lookup that walks
//! anonymous unions is what we need most (6.18 moved `ns_common.ns_id` into
//! one).

use std::path::Path;

use anyhow::{bail, ensure, Context as _, Result};

const BTF_MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// The largest BTF nstrace reads: vmlinux's is 5 to 10 MiB.
pub const MAX_BTF: u64 = 256 << 20;

/// Reads a BTF file, its 24-byte header first: the magic and the section
/// sizes it declares decide how much more is read, so that a wrong file
/// (`--btf /dev/zero`, a FIFO, a disk image) is refused at once instead of
/// read into memory whole.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let reading = || {
        format!(
            "reading kernel BTF from {}: nstrace needs a kernel built with \
             CONFIG_DEBUG_INFO_BTF=y, or a BTF file for it passed with --btf PATH",
            path.display()
        )
    };
    let file = std::fs::File::open(path).with_context(reading)?;
    let meta = file.metadata().with_context(reading)?;
    if meta.is_dir() {
        return Err(std::io::Error::from_raw_os_error(libc::EISDIR)).with_context(reading);
    }
    if !meta.is_file() {
        bail!(
            "{}: not a regular file: --btf takes a BTF file such as {}",
            path.display(),
            crate::loader::SYSFS_BTF
        );
    }
    let mut head = [0u8; 24];
    let mut file = file;
    let got = read_full(&mut file, &mut head).with_context(reading)?;
    let parsing = || format!("parsing BTF in {}", path.display());
    if got < head.len() {
        return Err(anyhow::anyhow!("{got} bytes is too short for a BTF header").context(parsing()));
    }
    let total = declared_len(&head).with_context(parsing)?;
    if total > MAX_BTF {
        return Err(anyhow::anyhow!(
            "the header declares {total} bytes, more than the {} MiB nstrace reads: not the \
             BTF of a kernel",
            MAX_BTF >> 20
        )
        .context(parsing()));
    }
    // Sized once to what the header declares, within what the file says it
    // holds (sysfs gives vmlinux's true size): grown by doubling, 5.5 MB
    // took an 8 MiB buffer. A header that lies costs no more than the file.
    let mut data = Vec::with_capacity(total.min(meta.len().max(head.len() as u64)) as usize);
    data.extend_from_slice(&head);
    file.take(total - head.len() as u64)
        .read_to_end(&mut data)
        .with_context(reading)?;
    Ok(data)
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read as _;
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Bytes a BTF blob spans by its header: header, types and strings.
fn declared_len(head: &[u8; 24]) -> Result<u64> {
    let u32_at = |at: usize| {
        u64::from(u32::from_le_bytes([
            head[at],
            head[at + 1],
            head[at + 2],
            head[at + 3],
        ]))
    };
    let magic = u16::from_le_bytes([head[0], head[1]]);
    ensure!(
        magic == BTF_MAGIC,
        "not BTF: magic {magic:#06x}, expected {BTF_MAGIC:#06x} (big-endian BTF is not supported)"
    );
    let hdr_len = u32_at(4);
    ensure!(
        (24..=4096).contains(&hdr_len),
        "not BTF: header length {hdr_len}, expected 24 or a little more"
    );
    let types_end = hdr_len + u32_at(8) + u32_at(12);
    let str_end = hdr_len + u32_at(16) + u32_at(20);
    Ok(types_end.max(str_end))
}

/// One BTF type's header, read in place from the data.
#[derive(Clone, Copy, Debug)]
struct Type {
    name_off: u32,
    kind: u32,
    kind_flag: bool,
    vlen: usize,
    /// `size` for structs/unions/ints, `type` for pointers, typedefs,
    /// modifiers, functions.
    size_or_type: u32,
    /// Where its trailing data (members, parameters) starts in the data.
    body: usize,
}

/// Parsed BTF, indexed rather than copied: the raw bytes, where each type
/// starts, and struct and function names sorted for lookup. vmlinux has
/// ~130k types; one record per type with its members in their own vectors
/// took three times the file's size, and nstrace needs a few dozen of them.
pub struct Btf {
    data: Vec<u8>,
    str_start: usize,
    str_end: usize,
    /// Byte offset of each type's header, by id (index 0 is void).
    offsets: Vec<u32>,
    /// (name offset, id) of every struct and union, sorted by name then id.
    structs: Vec<(u32, u32)>,
    /// (name offset, id) of every function, sorted by name then id.
    funcs: Vec<(u32, u32)>,
}

/// A member found by path: its byte offset from the outer struct, and its
/// type id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub offset: u32,
    pub type_id: u32,
}

impl Btf {
    /// Reads and parses a BTF file.
    pub fn from_file(path: &Path) -> Result<Btf> {
        let data = read_bounded(path)?;
        Btf::from_bytes(data).with_context(|| format!("parsing BTF in {}", path.display()))
    }

    /// Parses raw BTF bytes (little-endian, as on x86_64).
    pub fn parse(data: &[u8]) -> Result<Btf> {
        Btf::from_bytes(data.to_vec())
    }

    /// Parses raw BTF bytes, keeping them.
    pub fn from_bytes(data: Vec<u8>) -> Result<Btf> {
        let rd = Reader { data: &data };
        ensure!(
            data.len() >= 24,
            "{} bytes is too short for a BTF header",
            data.len()
        );
        let magic = rd.u16(0)?;
        ensure!(
            magic == BTF_MAGIC,
            "not BTF: magic {magic:#06x}, expected {BTF_MAGIC:#06x} (big-endian BTF is not supported)"
        );
        let hdr_len = rd.u32(4)? as usize;
        let type_off = rd.u32(8)? as usize;
        let type_len = rd.u32(12)? as usize;
        let str_off = rd.u32(16)? as usize;
        let str_len = rd.u32(20)? as usize;
        let types_start = hdr_len + type_off;
        let types_end = types_start + type_len;
        let str_start = hdr_len + str_off;
        let str_end = str_start + str_len;
        ensure!(
            types_end <= data.len() && str_end <= data.len() && types_end <= u32::MAX as usize,
            "BTF sections run past the end of the data ({} bytes)",
            data.len()
        );

        let mut offsets = vec![0u32];
        let mut structs = Vec::new();
        let mut funcs = Vec::new();
        let mut pos = types_start;
        while pos < types_end {
            let id = offsets.len() as u32;
            offsets.push(pos as u32);
            let name_off = rd.u32(pos)?;
            let info = rd.u32(pos + 4)?;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            pos += 12;
            pos += match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => vlen * 12,
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                other => bail!("unknown BTF kind {other} at type id {id}"),
            };
            if name_off != 0 {
                match kind {
                    // A struct name may also have FWD entries; only
                    // definitions count.
                    KIND_STRUCT | KIND_UNION => structs.push((name_off, id)),
                    KIND_FUNC => funcs.push((name_off, id)),
                    _ => {}
                }
            }
        }
        ensure!(
            pos == types_end,
            "BTF type section does not end on a type boundary"
        );
        // The trailing data of the last type must be in the section too.
        rd.u32(types_end.saturating_sub(4).max(types_start))?;
        let mut btf = Btf {
            data,
            str_start,
            str_end,
            offsets,
            structs,
            funcs,
        };
        let mut structs = std::mem::take(&mut btf.structs);
        let mut funcs = std::mem::take(&mut btf.funcs);
        // By name, then by id: the first definition of a name wins.
        structs.sort_unstable_by(|a, b| btf.str(a.0).cmp(btf.str(b.0)).then(a.1.cmp(&b.1)));
        funcs.sort_unstable_by(|a, b| btf.str(a.0).cmp(btf.str(b.0)).then(a.1.cmp(&b.1)));
        btf.structs = structs;
        btf.funcs = funcs;
        Ok(btf)
    }

    fn str(&self, off: u32) -> &str {
        str_at(&self.data[self.str_start..self.str_end], off)
    }

    fn u32_at(&self, at: usize) -> u32 {
        // Every offset read here was checked to lie in the type section
        // when the index was built.
        self.data
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn ty(&self, id: u32) -> Option<Type> {
        let at = *self.offsets.get(id as usize)? as usize;
        if id == 0 {
            return None;
        }
        let info = self.u32_at(at + 4);
        Some(Type {
            name_off: self.u32_at(at),
            kind: (info >> 24) & 0x1f,
            kind_flag: info >> 31 == 1,
            vlen: (info & 0xffff) as usize,
            size_or_type: self.u32_at(at + 8),
            body: at + 12,
        })
    }

    /// The first id named `name` in a sorted (name offset, id) index.
    fn lookup(&self, index: &[(u32, u32)], name: &str) -> Option<u32> {
        let i = index.partition_point(|&(off, _)| self.str(off) < name);
        index
            .get(i)
            .filter(|&&(off, _)| self.str(off) == name)
            .map(|&(_, id)| id)
    }

    /// Follows typedefs and modifiers to the underlying type id.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.ty(id) {
                Some(t)
                    if matches!(
                        t.kind,
                        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                    ) =>
                {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    }

    /// True if `name` is a struct (or union) this kernel defines.
    pub fn has_struct(&self, name: &str) -> bool {
        self.lookup(&self.structs, name).is_some()
    }

    /// Offset of `path` (dot-separated, e.g. `ns.inum`) in struct `name`.
    /// Members of anonymous structs and unions are found as if they were the
    /// outer struct's own, the way C sees them.
    pub fn member(&self, name: &str, path: &str) -> Result<Member> {
        let id = self
            .lookup(&self.structs, name)
            .with_context(|| format!("struct {name} is not in this kernel's BTF"))?;
        let mut cur = Member {
            offset: 0,
            type_id: id,
        };
        for part in path.split('.') {
            let m = self
                .find_member(self.resolve(cur.type_id), part, 0)
                .with_context(|| {
                    format!("struct {name} has no member {path} in this kernel's BTF")
                })?;
            cur = Member {
                offset: cur.offset + m.offset,
                type_id: m.type_id,
            };
        }
        Ok(cur)
    }

    /// Like [`Btf::member`], but `None` when the struct or member is absent:
    /// for fields that only some kernels have.
    pub fn member_opt(&self, name: &str, path: &str) -> Option<Member> {
        self.member(name, path).ok()
    }

    fn find_member(&self, struct_id: u32, name: &str, depth: u32) -> Option<Member> {
        let t = self.ty(struct_id)?;
        if !matches!(t.kind, KIND_STRUCT | KIND_UNION) || depth > 32 {
            return None;
        }
        for i in 0..t.vlen {
            let at = t.body + i * 12;
            let (name_off, type_id, offset) =
                (self.u32_at(at), self.u32_at(at + 4), self.u32_at(at + 8));
            // With kind_flag set, the low 24 bits are the bit offset and the
            // top 8 the bitfield size (btf.rst, "BTF_KIND_STRUCT").
            let bits = if t.kind_flag {
                offset & 0x00ff_ffff
            } else {
                offset
            };
            if name_off == 0 {
                if let Some(inner) = self.find_member(self.resolve(type_id), name, depth + 1) {
                    return Some(Member {
                        offset: bits / 8 + inner.offset,
                        type_id: inner.type_id,
                    });
                }
                continue;
            }
            if self.str(name_off) == name {
                return Some(Member {
                    offset: bits / 8,
                    type_id,
                });
            }
        }
        None
    }

    /// Size in bytes of the (resolved) type `id`, for structs, unions and ints.
    pub fn size_of(&self, id: u32) -> Option<u32> {
        let t = self.ty(self.resolve(id))?;
        match t.kind {
            KIND_STRUCT | KIND_UNION | KIND_INT | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT => {
                Some(t.size_or_type)
            }
            KIND_PTR => Some(8),
            _ => None,
        }
    }

    /// The BTF id of function `name`.
    fn func_id(&self, name: &str) -> Option<u32> {
        self.lookup(&self.funcs, name)
    }

    /// Parameter names of function `name`, if the kernel's BTF has it. A
    /// function missing from BTF cannot take fentry, and one that is there
    /// with other parameters means our hook would read the wrong argument.
    pub fn func_params(&self, name: &str) -> Option<Vec<String>> {
        let func = self.ty(self.func_id(name)?)?;
        let proto = self.ty(func.size_or_type)?;
        if proto.kind != KIND_FUNC_PROTO {
            return None;
        }
        Some(
            (0..proto.vlen)
                .map(|i| self.str(self.u32_at(proto.body + i * 8)).to_string())
                .collect(),
        )
    }

    /// The value of `enumerator` in the (32-bit) enum `name`, e.g.
    /// `cgroup_subsys_id`'s `pids_cgrp_id`, whose numbering depends on the
    /// kernel's config. A walk of every type: it is asked once per load, so
    /// enums get no index of their own.
    pub fn enum_value(&self, name: &str, enumerator: &str) -> Option<u32> {
        (1..self.offsets.len() as u32)
            .filter_map(|id| self.ty(id))
            .filter(|t| t.kind == KIND_ENUM && self.str(t.name_off) == name)
            .find_map(|t| {
                (0..t.vlen)
                    .map(|i| t.body + i * 8)
                    .find(|&at| self.str(self.u32_at(at)) == enumerator)
                    .map(|at| self.u32_at(at + 4))
            })
    }

    /// The raw BTF alone, the index dropped: for aya's own parse when
    /// fentry needs it.
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }

    /// Number of types, for diagnostics.
    pub fn type_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Name of struct member type, for diagnostics and tests.
    pub fn type_name(&self, id: u32) -> &str {
        self.ty(self.resolve(id))
            .map(|t| self.str(t.name_off))
            .unwrap_or("")
    }
}

fn str_at(strings: &[u8], off: u32) -> &str {
    let s = strings.get(off as usize..).unwrap_or(&[]);
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    std::str::from_utf8(&s[..end]).unwrap_or("")
}

struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn u16(&self, at: usize) -> Result<u16> {
        let b = self
            .data
            .get(at..at + 2)
            .with_context(|| format!("BTF truncated at byte {at}"))?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, at: usize) -> Result<u32> {
        let b = self
            .data
            .get(at..at + 4)
            .with_context(|| format!("BTF truncated at byte {at}"))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("types", &self.type_count())
            .field("string_bytes", &(self.str_end - self.str_start))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny BTF blob built by hand: struct outer { int a; union { int b;
    /// struct inner c; }; }, struct inner { int x; int y; }, and a function
    /// `f(struct outer *o)`, and enum ids { one = 3, two = 7 }.
    fn sample() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0c\0inner\0x\0y\0f\0o\0ids\0one\0two\0".to_vec();
        let off = |s: &str| -> u32 {
            let needle = format!("\0{s}\0");
            (strings
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap()
                + 1) as u32
        };
        let mut t = Vec::new();
        let mut push = |v: &[u32]| v.iter().for_each(|x| t.extend_from_slice(&x.to_le_bytes()));
        let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
        // 1: int
        push(&[off("int"), info(KIND_INT, 0), 4, 32]);
        // 2: struct inner { int x @0; int y @32 bits }
        push(&[off("inner"), info(KIND_STRUCT, 2), 8]);
        push(&[off("x"), 1, 0, off("y"), 1, 32]);
        // 3: anonymous union { int b; struct inner c; }
        push(&[0, info(KIND_UNION, 2), 8]);
        push(&[off("b"), 1, 0, off("c"), 2, 0]);
        // 4: struct outer { int a @0; union @64 bits }
        push(&[off("outer"), info(KIND_STRUCT, 2), 16]);
        push(&[off("a"), 1, 0, 0, 3, 64]);
        // 5: ptr to outer, 6: proto (o: *outer) -> int, 7: func f
        push(&[0, info(KIND_PTR, 0), 4]);
        push(&[0, info(KIND_FUNC_PROTO, 1), 1, off("o"), 5]);
        push(&[off("f"), info(KIND_FUNC, 0), 6]);
        // 8: enum ids { one = 3, two = 7 }
        push(&[off("ids"), info(KIND_ENUM, 2), 4]);
        push(&[off("one"), 3, off("two"), 7]);

        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for v in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&t);
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn finds_members_through_anonymous_unions() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.member("outer", "a").unwrap().offset, 0);
        assert_eq!(btf.member("outer", "b").unwrap().offset, 8);
        assert_eq!(btf.member("outer", "c.y").unwrap().offset, 12);
        assert_eq!(
            btf.size_of(btf.member("outer", "c").unwrap().type_id),
            Some(8)
        );
        assert_eq!(btf.func_params("f"), Some(vec!["o".to_string()]));
        assert_eq!(btf.func_params("g"), None);
    }

    #[test]
    fn finds_enumerators() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.enum_value("ids", "two"), Some(7));
        assert_eq!(btf.enum_value("ids", "one"), Some(3));
        assert_eq!(btf.enum_value("ids", "three"), None);
        assert_eq!(btf.enum_value("outer", "a"), None);
    }

    #[test]
    fn missing_things_are_named() {
        let btf = Btf::parse(&sample()).unwrap();
        let err = btf.member("outer", "zz").unwrap_err().to_string();
        assert_eq!(err, "struct outer has no member zz in this kernel's BTF");
        let err = btf.member("nope", "a").unwrap_err().to_string();
        assert_eq!(err, "struct nope is not in this kernel's BTF");
    }

    #[test]
    fn a_wrong_file_is_refused_by_its_header_before_it_is_read() {
        let err = format!("{:#}", read_bounded(Path::new("/dev/zero")).unwrap_err());
        assert_eq!(
            err,
            "/dev/zero: not a regular file: --btf takes a BTF file such as /sys/kernel/btf/vmlinux"
        );
        let dir = std::env::temp_dir().join(format!("nstrace-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A header that claims 4 GiB of strings.
        let mut huge = sample()[..24].to_vec();
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        let path = dir.join("huge");
        std::fs::write(&path, &huge).unwrap();
        let err = format!("{:#}", read_bounded(&path).unwrap_err());
        // Header, types, then the 4 GiB of strings.
        let types = u64::from(u32::from_le_bytes(huge[12..16].try_into().unwrap()));
        let declared = 24 + types + u64::from(u32::MAX);
        assert!(
            err.ends_with(&format!("the header declares {declared} bytes, more than the 256 MiB nstrace reads: not the BTF of a kernel")),
            "{err}"
        );
        // A real one reads whole, and no further than its header says.
        let mut padded = sample();
        let len = padded.len();
        padded.extend_from_slice(&[0xff; 100]);
        std::fs::write(&path, &padded).unwrap();
        assert_eq!(read_bounded(&path).unwrap().len(), len);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_what_is_not_btf() {
        let err = Btf::parse(&[0u8; 32]).unwrap_err().to_string();
        assert!(err.starts_with("not BTF: magic 0x0000"), "{err}");
        let mut truncated = sample();
        truncated.truncate(40);
        assert!(Btf::parse(&truncated).is_err());
    }

    #[test]
    fn reads_this_kernels_task_struct() {
        // Every kernel nstrace supports has these; the values differ per
        // build, which is the point of reading them.
        let Ok(btf) = Btf::from_file(Path::new("/sys/kernel/btf/vmlinux")) else {
            panic!("this test needs /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
        };
        let nsproxy = btf.member("task_struct", "nsproxy").unwrap();
        assert!(nsproxy.offset > 0);
        assert_eq!(btf.size_of(nsproxy.type_id), Some(8));
        let inum = btf.member("ns_common", "inum").unwrap();
        assert_eq!(btf.size_of(inum.type_id), Some(4));
        assert!(btf.func_params("nsfs_evict").is_some());
    }
}
