//! The eight namespace types, numbered for the wire.

/// A namespace type. The numbers are wire values: never renumber or reuse.
/// In JSON it is its [`NsType::name`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum NsType {
    Mnt = 0,
    Uts = 1,
    Ipc = 2,
    Pid = 3,
    Net = 4,
    User = 5,
    Cgroup = 6,
    Time = 7,
}

impl NsType {
    /// All types in wire order.
    pub const ALL: [NsType; 8] = [
        NsType::Mnt,
        NsType::Uts,
        NsType::Ipc,
        NsType::Pid,
        NsType::Net,
        NsType::User,
        NsType::Cgroup,
        NsType::Time,
    ];

    pub const fn from_u32(v: u32) -> Option<NsType> {
        match v {
            0 => Some(NsType::Mnt),
            1 => Some(NsType::Uts),
            2 => Some(NsType::Ipc),
            3 => Some(NsType::Pid),
            4 => Some(NsType::Net),
            5 => Some(NsType::User),
            6 => Some(NsType::Cgroup),
            7 => Some(NsType::Time),
            _ => None,
        }
    }

    /// The name used by nstrace's output and by `/proc/PID/ns/<name>`.
    pub const fn name(self) -> &'static str {
        match self {
            NsType::Mnt => "mnt",
            NsType::Uts => "uts",
            NsType::Ipc => "ipc",
            NsType::Pid => "pid",
            NsType::Net => "net",
            NsType::User => "user",
            NsType::Cgroup => "cgroup",
            NsType::Time => "time",
        }
    }

    /// The `CLONE_NEW*` flag that creates this type
    /// (include/uapi/linux/sched.h, identical from v5.6 to v6.18).
    pub const fn clone_flag(self) -> u64 {
        match self {
            NsType::Mnt => 0x0002_0000,
            NsType::Uts => 0x0400_0000,
            NsType::Ipc => 0x0800_0000,
            NsType::Pid => 0x2000_0000,
            NsType::Net => 0x4000_0000,
            NsType::User => 0x1000_0000,
            NsType::Cgroup => 0x0200_0000,
            NsType::Time => 0x0000_0080,
        }
    }

    /// Bit for this type in a `u8` type mask.
    pub const fn bit(self) -> u8 {
        1 << (self as u32)
    }
}

/// Every `CLONE_NEW*` flag at once.
pub const CLONE_NEW_ANY: u64 = 0x0002_0000
    | 0x0400_0000
    | 0x0800_0000
    | 0x2000_0000
    | 0x4000_0000
    | 0x1000_0000
    | 0x0200_0000
    | 0x0000_0080;

impl core::fmt::Display for NsType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
