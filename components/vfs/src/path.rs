//! Path resolution (path_resolution(7)): absolute and relative paths, `.` and `..` (which
//! stays at the root), repeated and trailing slashes, and symlinks, with the limits Linux
//! enforces (ELOOP after 40 links, NAME_MAX 255, PATH_MAX 4096 including the NUL).

use crate::Ino;
use crate::node::{Body, ROOT, Table};
use friscy_abi::Errno;

/// Symlinks followed in one resolution before ELOOP (MAXSYMLINKS, path_resolution(7)).
pub(crate) const MAX_LINKS: u32 = 40;
/// Longest name component (NAME_MAX).
pub(crate) const NAME_MAX: usize = 255;
/// Longest path, not counting the terminating NUL (PATH_MAX - 1).
pub(crate) const PATH_MAX: usize = 4095;

/// Split a path into its components (empty ones, from repeated slashes, dropped).
fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&c| c == b'/').filter(|c| !c.is_empty())
}

impl Table {
    /// Resolve `path` from `start`; the final symlink is followed only if `follow` (or the
    /// path ends in a slash, which asks for a directory).
    pub(crate) fn resolve(&self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
        if path.is_empty() {
            // path_resolution(7): an empty pathname is ENOENT.
            return Err(Errno::ENOENT);
        }
        if path.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut links = 0;
        self.walk(start, path, follow, &mut links)
    }

    fn walk(&self, start: Ino, path: &[u8], follow: bool, links: &mut u32) -> Result<Ino, Errno> {
        let mut cur = if path.starts_with(b"/") { ROOT } else { start };
        // The start directory must exist even for "." (a released inode).
        self.get(cur)?;
        let trailing_slash = path.ends_with(b"/");
        let mut comps = components(path).peekable();
        while let Some(comp) = comps.next() {
            let last = comps.peek().is_none();
            // A non-final component must be a directory.
            let dir = self.dir(cur)?;
            if comp.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            cur = match comp {
                b"." => cur,
                b".." => {
                    if cur == ROOT {
                        ROOT
                    } else {
                        dir.parent
                    }
                }
                _ => {
                    let (_, child) = *dir.listing()?.entries.get(comp).ok_or(Errno::ENOENT)?;
                    match &self.get(child)?.body {
                        Body::Symlink(target) if !last || follow || trailing_slash => {
                            *links += 1;
                            if *links > MAX_LINKS {
                                return Err(Errno::ELOOP);
                            }
                            if target.is_empty() {
                                return Err(Errno::ENOENT);
                            }
                            // Relative targets resolve from the link's directory,
                            // absolute ones from the root (symlink(7)).
                            self.walk(cur, target, true, links)?
                        }
                        _ => child,
                    }
                }
            };
        }
        if trailing_slash && !self.get(cur)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// Resolve all but the final component, following symlinks on the way; return that
    /// directory and the final name (trailing slashes stripped; `.` and `..` as they are).
    /// The path "/" (all slashes) names the root itself and comes back as (root, "/").
    pub(crate) fn resolve_parent(&self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let end = path
            .iter()
            .rposition(|&c| c != b'/')
            .map(|i| i + 1)
            .unwrap_or(0);
        if end == 0 {
            return Ok((ROOT, b"/".to_vec()));
        }
        let trimmed = &path[..end];
        let (dir_part, name) = match trimmed.iter().rposition(|&c| c == b'/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (&b""[..], trimmed),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let parent = if dir_part.is_empty() {
            self.get(start)?;
            start
        } else {
            let mut links = 0;
            self.walk(start, dir_part, true, &mut links)?
        };
        self.dir(parent)?;
        Ok((parent, name.to_vec()))
    }

    /// The absolute path of a directory (getcwd(3)); ENOENT once it has been removed.
    pub(crate) fn path_of(&self, dir: Ino) -> Result<Vec<u8>, Errno> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur = dir;
        while cur != ROOT {
            let d = self.dir(cur)?;
            if d.removed {
                return Err(Errno::ENOENT);
            }
            names.push(&d.name);
            cur = d.parent;
            if names.len() > PATH_MAX {
                // A cycle would be a bug; do not spin.
                return Err(Errno::ENAMETOOLONG);
            }
        }
        self.dir(ROOT)?;
        if names.is_empty() {
            return Ok(b"/".to_vec());
        }
        let mut out = Vec::new();
        for n in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        Ok(out)
    }
}
