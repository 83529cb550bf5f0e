//! Whole images as input: every riscv64 ELF file in a rootfs tar (plain or gzip).

use std::collections::{HashMap, HashSet};
use std::io::Read;

use anyhow::{Context, Result, bail};

use crate::Input;
use crate::elf::is_riscv64_elf;

/// Whether `data` (named `name`) is a tar or a gzip-compressed tar.
pub fn is_tar(name: &str, data: &[u8]) -> bool {
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let ustar = data.len() > 262 && &data[257..262] == b"ustar";
    ustar || gz && (name.ends_with(".tar.gz") || name.ends_with(".tgz"))
}

/// The riscv64 ELF regular files in a tar (hard links and symlinks are the same files).
pub fn elfs_in_tar(data: &[u8]) -> Result<Vec<Input>> {
    let reader: Box<dyn Read + '_> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    let mut ar = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in ar.entries()? {
        let mut e = entry?;
        if e.header().entry_type() != tar::EntryType::Regular || e.size() < 64 {
            continue;
        }
        let name = e.path()?.display().to_string();
        let mut head = [0u8; 64];
        e.read_exact(&mut head)?;
        if !is_riscv64_elf(&head) {
            continue;
        }
        let mut data = head.to_vec();
        e.read_to_end(&mut data)?;
        out.push(Input { name, data });
    }
    Ok(out)
}

/// A rootfs tar's members by absolute path, enough to resolve paths the way the guest's
/// kernel would (symlinks, including directory links such as Debian's `/lib -> usr/lib`).
struct Tree<'a> {
    files: HashMap<String, &'a [u8]>,
    symlinks: HashMap<String, String>,
}

/// `/`-rooted, without `.`, `..` or repeated slashes (tar names are `./usr/bin/x`).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl<'a> Tree<'a> {
    /// `data` is an uncompressed tar: file contents stay where they are.
    fn read(data: &'a [u8]) -> Result<Tree<'a>> {
        let mut files = HashMap::new();
        let mut symlinks = HashMap::new();
        let mut hard = Vec::new();
        let mut ar = tar::Archive::new(data);
        for entry in ar.entries()? {
            let e = entry?;
            let path = normalize(&e.path()?.to_string_lossy());
            let kind = e.header().entry_type();
            if kind == tar::EntryType::Symlink || kind == tar::EntryType::Link {
                let Some(target) = e.link_name()? else {
                    continue;
                };
                let target = target.to_string_lossy().into_owned();
                if kind == tar::EntryType::Link {
                    hard.push((path, normalize(&target)));
                } else {
                    files.remove(&path);
                    symlinks.insert(path, target);
                }
            } else if kind == tar::EntryType::Regular {
                let start = e.raw_file_position() as usize;
                let end = start + e.size() as usize;
                let bytes = data
                    .get(start..end)
                    .context("a tar member runs past the end")?;
                symlinks.remove(&path);
                files.insert(path, bytes);
            }
        }
        // A hard link names the same file as its target (a later member may replace it).
        for (path, target) in hard {
            if let Some(&bytes) = files.get(&target) {
                files.insert(path, bytes);
            }
        }
        Ok(Tree { files, symlinks })
    }

    /// `path` with every symlink on the way followed (at most 40, as Linux's ELOOP).
    fn resolve(&self, path: &str) -> Option<String> {
        let mut todo = normalize(path);
        for _ in 0..40 {
            let mut done = String::new();
            let mut redirected = None;
            let comps: Vec<&str> = todo.split('/').filter(|c| !c.is_empty()).collect();
            for (i, c) in comps.iter().enumerate() {
                let here = format!("{done}/{c}");
                if let Some(target) = self.symlinks.get(&here) {
                    let base = if target.starts_with('/') {
                        ""
                    } else {
                        parent(&here)
                    };
                    let rest = comps[i + 1..].join("/");
                    redirected = Some(normalize(&format!("{base}/{target}/{rest}")));
                    break;
                }
                done = here;
            }
            match redirected {
                Some(next) => todo = next,
                None => return Some(if done.is_empty() { "/".into() } else { done }),
            }
        }
        None
    }

    /// The directories the dynamic linkers search, as this image configures them: glibc's
    /// /etc/ld.so.conf and every /etc/ld.so.conf.d/*.conf (what its usual `include`
    /// names; `include` lines themselves are skipped), musl's /etc/ld-musl-*.path, and
    /// both linkers' built-in defaults.
    fn library_dirs(&self) -> Vec<String> {
        let mut dirs = Vec::new();
        let mut conf = vec!["/etc/ld.so.conf".to_string()];
        conf.extend(
            self.files
                .keys()
                .filter(|p| p.starts_with("/etc/ld.so.conf.d/") && p.ends_with(".conf"))
                .cloned(),
        );
        conf.extend(
            self.files
                .keys()
                .filter(|p| p.starts_with("/etc/ld-musl-") && p.ends_with(".path"))
                .cloned(),
        );
        conf.sort();
        for c in conf {
            let Some(text) = self.resolve(&c).and_then(|p| self.files.get(&p)) else {
                continue;
            };
            for line in String::from_utf8_lossy(text).split(['\n', ':']) {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.starts_with('/') {
                    dirs.push(line.to_string());
                }
            }
        }
        for d in [
            "/lib/riscv64-linux-gnu",
            "/usr/lib/riscv64-linux-gnu",
            "/lib64/lp64d",
            "/usr/lib64/lp64d",
            "/lib",
            "/usr/local/lib",
            "/usr/lib",
        ] {
            dirs.push(d.to_string());
        }
        dirs
    }
}

/// The riscv64 ELF files of a rootfs tar that running `wanted` needs: each wanted file
/// (or every riscv64 ELF file under a wanted directory), its dynamic linker and the shared
/// libraries it needs (DT_NEEDED, searched along DT_RUNPATH/DT_RPATH and the image's
/// library path), transitively. Paths are the image's, absolute; symlinks are followed.
/// Libraries that cannot be found are left out (they would run interpreted); a wanted
/// path that is missing or holds no riscv64 ELF file is an error.
pub fn select_in_tar(data: &[u8], wanted: &[String]) -> Result<Vec<Input>> {
    let plain;
    let data = if data.starts_with(&[0x1f, 0x8b]) {
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut v)
            .context("decompressing the image")?;
        plain = v;
        &plain[..]
    } else {
        data
    };
    let tree = Tree::read(data)?;
    let mut queue = Vec::new();
    for w in wanted {
        if !w.starts_with('/') {
            bail!("{w}: not an absolute path in the image");
        }
        let path = tree
            .resolve(w)
            .with_context(|| format!("{w}: too many levels of symbolic links"))?;
        if let Some(bytes) = tree.files.get(&path) {
            if !is_riscv64_elf(bytes) {
                bail!("{w}: not a riscv64 ELF executable or shared object");
            }
            queue.push(path);
            continue;
        }
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut under: Vec<&String> = tree
            .files
            .iter()
            .filter(|(p, b)| p.starts_with(&prefix) && is_riscv64_elf(b))
            .map(|(p, _)| p)
            .collect();
        if under.is_empty() {
            let what = if tree.files.keys().any(|p| p.starts_with(&prefix)) {
                "holds no riscv64 ELF file"
            } else {
                "no such file or directory in the image"
            };
            bail!("{w}: {what}");
        }
        under.sort();
        queue.extend(under.into_iter().cloned());
    }
    let dirs = tree.library_dirs();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let bytes = tree.files[&path];
        out.push(Input {
            name: path.clone(),
            data: bytes.to_vec(),
        });
        // A file goblin cannot read is still translated (or reported) by translate().
        let Ok(elf) = goblin::elf::Elf::parse(bytes) else {
            continue;
        };
        let origin = parent(&path);
        let mut search: Vec<String> = elf
            .runpaths
            .iter()
            .chain(&elf.rpaths)
            .flat_map(|r| r.split(':'))
            .map(|d| d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
            .collect();
        search.extend(dirs.iter().cloned());
        let mut deps: Vec<String> = elf.interpreter.iter().map(|s| s.to_string()).collect();
        for lib in &elf.libraries {
            if lib.contains('/') {
                deps.push(lib.to_string());
            } else if let Some(found) = search.iter().find_map(|d| {
                let p = tree.resolve(&format!("{d}/{lib}"))?;
                tree.files.get(&p).filter(|b| is_riscv64_elf(b)).map(|_| p)
            }) {
                deps.push(found);
            }
        }
        for d in deps {
            if let Some(p) = tree
                .resolve(&d)
                .filter(|p| tree.files.get(p).is_some_and(|b| is_riscv64_elf(b)))
            {
                queue.push(p);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A riscv64 ELF header (ET_DYN) and `tag`, enough for `is_riscv64_elf` (goblin cannot
    /// parse it further, so it has no dependencies).
    fn fake_elf(tag: u8) -> Vec<u8> {
        let mut h = vec![0u8; 80];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 3; // ET_DYN
        h[18] = 243; // EM_RISCV
        h[79] = tag;
        h
    }

    enum M<'a> {
        File(&'a [u8]),
        Sym(&'a str),
        Hard(&'a str),
    }

    fn tar_of(members: &[(&str, M)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, m) in members {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            match m {
                M::File(data) => {
                    h.set_size(data.len() as u64);
                    h.set_cksum();
                    b.append_data(&mut h, path, *data).unwrap();
                }
                M::Sym(t) | M::Hard(t) => {
                    let kind = if matches!(m, M::Sym(_)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    h.set_entry_type(kind);
                    h.set_size(0);
                    b.append_link(&mut h, path, t).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn names(inputs: &[Input]) -> Vec<&str> {
        inputs.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn paths_resolve_through_file_and_directory_links() {
        let (a, b) = (fake_elf(1), fake_elf(2));
        let data = tar_of(&[
            ("./lib", M::Sym("usr/lib")),
            ("./usr/lib/x/liba.so.1.2", M::File(&a)),
            ("./usr/lib/x/liba.so.1", M::Sym("liba.so.1.2")),
            ("./usr/bin/prog", M::File(&b)),
            ("./bin/up", M::Sym("../usr/bin/./prog")),
            ("./bin/abs", M::Sym("/lib/x/liba.so.1")),
            ("./bin/hard", M::Hard("./usr/bin/prog")),
            ("./loop1", M::Sym("loop2")),
            ("./loop2", M::Sym("/loop1")),
        ]);
        let t = Tree::read(&data).unwrap();
        let r = |p: &str| t.resolve(p);
        assert_eq!(
            r("/lib/x/liba.so.1").as_deref(),
            Some("/usr/lib/x/liba.so.1.2")
        );
        assert_eq!(r("/bin/up").as_deref(), Some("/usr/bin/prog"));
        assert_eq!(r("/bin/abs").as_deref(), Some("/usr/lib/x/liba.so.1.2"));
        assert_eq!(
            r("//usr/./lib/../bin/prog").as_deref(),
            Some("/usr/bin/prog")
        );
        assert_eq!(r("/loop1"), None, "a symlink loop is ELOOP");
        assert_eq!(
            t.files["/bin/hard"],
            &b[..],
            "a hard link is its target's file"
        );
    }

    #[test]
    fn selection_takes_files_and_directories_and_says_what_is_wrong() {
        let (a, b, c) = (fake_elf(1), fake_elf(2), fake_elf(3));
        let data = tar_of(&[
            ("./lib", M::Sym("usr/lib")),
            ("./usr/lib/mods/one.so", M::File(&a)),
            ("./usr/lib/mods/sub/two.so", M::File(&b)),
            ("./usr/lib/mods/readme", M::File(b"text")),
            ("./usr/bin/prog", M::File(&c)),
            ("./usr/bin/python3", M::Sym("prog")),
            ("./etc/motd", M::File(b"hello")),
        ]);
        let pick = |w: &[&str]| {
            let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
            select_in_tar(&data, &w)
        };
        let got = pick(&["/usr/bin/python3"]).unwrap();
        assert_eq!(names(&got), ["/usr/bin/prog"]);
        assert_eq!(got[0].data, c);
        let got = pick(&["/lib/mods", "/usr/bin/prog"]).unwrap();
        assert_eq!(
            names(&got),
            [
                "/usr/bin/prog",
                "/usr/lib/mods/one.so",
                "/usr/lib/mods/sub/two.so"
            ]
        );
        let err = |w: &[&str]| format!("{:#}", pick(w).unwrap_err());
        assert!(err(&["/etc/motd"]).contains("/etc/motd: not a riscv64 ELF"));
        assert!(err(&["/etc"]).contains("/etc: holds no riscv64 ELF file"));
        assert!(err(&["/usr/bin/nope"]).contains("no such file or directory"));
        assert!(err(&["usr/bin/prog"]).contains("not an absolute path"));
        // gzip-compressed images read the same.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        let got = select_in_tar(&gz, &["/usr/bin/python3".to_string()]).unwrap();
        assert_eq!(names(&got), ["/usr/bin/prog"]);
    }
}
