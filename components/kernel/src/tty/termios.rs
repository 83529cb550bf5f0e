//! `struct termios` as riscv64 Linux lays it out (include/uapi/asm-generic/termbits.h),
//! its flag bits and control characters, and the settings a new terminal starts with.

/// Number of control characters in `c_cc`.
pub const NCCS: usize = 19;

// c_cc indices.
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSTART: usize = 8;
pub const VSTOP: usize = 9;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VREPRINT: usize = 12;
pub const VWERASE: usize = 14;
pub const VLNEXT: usize = 15;
pub const VEOL2: usize = 16;

// c_iflag.
pub const IGNBRK: u32 = 0o1;
pub const BRKINT: u32 = 0o2;
pub const ISTRIP: u32 = 0o40;
pub const INLCR: u32 = 0o100;
pub const IGNCR: u32 = 0o200;
pub const ICRNL: u32 = 0o400;
pub const IUCLC: u32 = 0o1000;
pub const IXON: u32 = 0o2000;
pub const IXANY: u32 = 0o4000;
pub const IMAXBEL: u32 = 0o20000;
pub const IUTF8: u32 = 0o40000;

// c_oflag.
pub const OPOST: u32 = 0o1;
pub const OLCUC: u32 = 0o2;
pub const ONLCR: u32 = 0o4;
pub const OCRNL: u32 = 0o10;
pub const ONOCR: u32 = 0o20;
pub const ONLRET: u32 = 0o40;
pub const TABDLY: u32 = 0o14000;
/// TAB3: expand tabs to spaces.
pub const XTABS: u32 = 0o14000;

// c_cflag.
pub const B38400: u32 = 0o17;
pub const CS8: u32 = 0o60;
pub const CREAD: u32 = 0o200;
pub const HUPCL: u32 = 0o2000;

// c_lflag.
pub const ISIG: u32 = 0o1;
pub const ICANON: u32 = 0o2;
pub const ECHO: u32 = 0o10;
pub const ECHOE: u32 = 0o20;
pub const ECHOK: u32 = 0o40;
pub const ECHONL: u32 = 0o100;
pub const NOFLSH: u32 = 0o200;
pub const TOSTOP: u32 = 0o400;
pub const ECHOCTL: u32 = 0o1000;
pub const ECHOPRT: u32 = 0o2000;
pub const ECHOKE: u32 = 0o4000;
pub const IEXTEN: u32 = 0o100000;

/// Size of `struct termios` (TCGETS) and `struct termios2` (TCGETS2).
pub const TERMIOS_SIZE: usize = 36;
pub const TERMIOS2_SIZE: usize = 44;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
    pub ispeed: u32,
    pub ospeed: u32,
}

/// INIT_C_CC (include/linux/tty.h): ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, ^Q ^S ^Z, VEOL off,
/// ^R ^O ^W ^V, VEOL2 off.
const INIT_C_CC: [u8; NCCS] = [
    3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
];

impl Termios {
    /// What a new pseudo-terminal slave starts with on Linux (pty.c: tty_std_termios with
    /// c_cflag B38400|CS8|CREAD).
    pub fn pts_default() -> Termios {
        Termios {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: B38400 | CS8 | CREAD,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            line: 0,
            cc: INIT_C_CC,
            ispeed: 38400,
            ospeed: 38400,
        }
    }

    /// A pty master's own settings (pty.c: everything off but the character size).
    pub fn ptm_default() -> Termios {
        Termios {
            iflag: 0,
            oflag: 0,
            cflag: B38400 | CS8 | CREAD,
            lflag: 0,
            ..Termios::pts_default()
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(TERMIOS2_SIZE);
        for v in [self.iflag, self.oflag, self.cflag, self.lflag] {
            b.extend(v.to_le_bytes());
        }
        b.push(self.line);
        b.extend(self.cc);
        b.extend(self.ispeed.to_le_bytes());
        b.extend(self.ospeed.to_le_bytes());
        b
    }

    /// From a `struct termios` (36 bytes: the speeds stay) or `struct termios2` (44).
    pub fn decode(&self, b: &[u8]) -> Termios {
        let word = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
        let mut t = Termios {
            iflag: word(0),
            oflag: word(1),
            cflag: word(2),
            lflag: word(3),
            line: b[16],
            cc: b[17..17 + NCCS].try_into().unwrap(),
            ..*self
        };
        if b.len() >= TERMIOS2_SIZE {
            t.ispeed = word(9);
            t.ospeed = word(10);
        }
        t
    }

    pub fn l(&self, flag: u32) -> bool {
        self.lflag & flag != 0
    }
    pub fn i(&self, flag: u32) -> bool {
        self.iflag & flag != 0
    }
    pub fn o(&self, flag: u32) -> bool {
        self.oflag & flag != 0
    }

    /// Whether `c` is control character `which` (a value of 0 disables it:
    /// _POSIX_VDISABLE).
    pub fn is(&self, which: usize, c: u8) -> bool {
        self.cc[which] != 0 && self.cc[which] == c
    }
}

/// struct winsize (TIOCGWINSZ).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

impl Winsize {
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0; 8];
        for (i, v) in [self.rows, self.cols, self.xpixel, self.ypixel]
            .into_iter()
            .enumerate()
        {
            b[i * 2..i * 2 + 2].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
    pub fn decode(b: &[u8]) -> Winsize {
        let half = |i: usize| u16::from_le_bytes([b[i * 2], b[i * 2 + 1]]);
        Winsize {
            rows: half(0),
            cols: half(1),
            xpixel: half(2),
            ypixel: half(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_asm_generic() {
        let t = Termios::pts_default();
        let b = t.encode();
        assert_eq!(b.len(), TERMIOS2_SIZE);
        // stty -g on a fresh Linux pty: 500:5:bf:8a3b.
        assert_eq!(&b[0..4], &0x500u32.to_le_bytes());
        assert_eq!(&b[4..8], &5u32.to_le_bytes());
        assert_eq!(&b[8..12], &0xbfu32.to_le_bytes());
        assert_eq!(&b[12..16], &0x8a3bu32.to_le_bytes());
        assert_eq!(b[17 + VINTR], 3);
        assert_eq!(b[17 + VMIN], 1);
        assert_eq!(t.decode(&b[..TERMIOS_SIZE]), t);
        let mut raw = t;
        raw.lflag = 0;
        raw.ispeed = 9600;
        assert_eq!(t.decode(&raw.encode()), raw);
        let ws = Winsize {
            rows: 40,
            cols: 120,
            ..Winsize::default()
        };
        assert_eq!(Winsize::decode(&ws.encode()), ws);
    }
}
