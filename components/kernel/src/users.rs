//! The user a container runs as: `docker run -u USER[:GROUP]` (or the image config's
//! `User`) resolved against the image's /etc/passwd and /etc/group the way Docker's
//! runtime does it (runc's libcontainer/user GetExecUser):
//!
//! - USER is a name, which must have a passwd entry, or a number, whose passwd entry (if
//!   any) gives the primary group and home directory; without one the group is 0 and the
//!   home "/";
//! - GROUP is a name, which must have a group entry, or a number, and replaces the
//!   primary group;
//! - without GROUP, the supplementary groups are the groups that list the user's name;
//! - an empty USER is uid 0, looked up like a number.

/// The resolved user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The passwd entry's home directory ("/" without one), for HOME.
    pub home: Vec<u8>,
}

/// One `name:x:uid:gid:...:home:shell` line, or `name:x:gid:member,member` for groups.
struct Entry<'a> {
    name: &'a [u8],
    id: u32,
    gid: u32,
    home: &'a [u8],
    members: Vec<&'a [u8]>,
}

fn entries(file: &[u8], group: bool) -> impl Iterator<Item = Entry<'_>> {
    file.split(|&b| b == b'\n').filter_map(move |line| {
        let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let num = |s: &[u8]| std::str::from_utf8(s).ok()?.trim().parse::<u32>().ok();
        if line.starts_with(b"#") || f.len() < if group { 3 } else { 4 } {
            return None;
        }
        Some(Entry {
            name: f[0],
            id: num(f[2])?,
            gid: if group { 0 } else { num(f[3])? },
            home: if group {
                &[]
            } else {
                f.get(5).copied().unwrap_or(b"/")
            },
            members: if group {
                f.get(3)
                    .map(|m| m.split(|&b| b == b',').filter(|m| !m.is_empty()).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            },
        })
    })
}

fn numeric(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|&n| n < u32::MAX)
}

/// Resolve `spec` (`USER[:GROUP]`, empty for root) against the image's passwd and group
/// files (`None` where the image has none). Errors are Docker's messages.
pub fn resolve(spec: &str, passwd: Option<&[u8]>, group: Option<&[u8]>) -> Result<User, String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = passwd.unwrap_or_default();
    let group_file = group.unwrap_or_default();
    let found = match numeric(if user.is_empty() { "0" } else { user }) {
        Some(uid) => entries(passwd, false).find(|e| e.id == uid),
        None => {
            let e = entries(passwd, false).find(|e| e.name == user.as_bytes());
            if e.is_none() {
                return Err(format!(
                    "unable to find user {user}: no matching entries in passwd file"
                ));
            }
            e
        }
    };
    let mut u = match &found {
        Some(e) => User {
            uid: e.id,
            gid: e.gid,
            groups: Vec::new(),
            home: if e.home.is_empty() {
                b"/".to_vec()
            } else {
                e.home.to_vec()
            },
        },
        None => User {
            uid: numeric(if user.is_empty() { "0" } else { user }).unwrap_or(0),
            gid: 0,
            groups: Vec::new(),
            home: b"/".to_vec(),
        },
    };
    match grp {
        Some(g) if !g.is_empty() => {
            u.gid = match numeric(g) {
                Some(gid) => gid,
                None => entries(group_file, true)
                    .find(|e| e.name == g.as_bytes())
                    .map(|e| e.id)
                    .ok_or_else(|| {
                        format!("unable to find group {g}: no matching entries in group file")
                    })?,
            };
        }
        _ => {
            if let Some(e) = &found {
                u.groups = entries(group_file, true)
                    .filter(|g| g.members.contains(&e.name))
                    .map(|g| g.id)
                    .collect();
            }
        }
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:2:2:daemon:/sbin:/sbin/nologin\n\
        nobody:x:65534:65534:nobody:/:/sbin/nologin\n\
        app:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &[u8] = b"root:x:0:root\nwheel:x:10:root,app\n\
        nobody:x:65534:\napp:x:1000:\nstaff:x:50:app\n";

    fn r(spec: &str) -> Result<User, String> {
        resolve(spec, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn names_and_numbers() {
        let nobody = r("nobody").unwrap();
        assert_eq!((nobody.uid, nobody.gid), (65534, 65534));
        assert_eq!(nobody.home, b"/");
        assert!(nobody.groups.is_empty());
        let app = r("app").unwrap();
        assert_eq!((app.uid, app.gid, &app.groups), (1000, 1000, &vec![10, 50]));
        assert_eq!(app.home, b"/home/app");
        assert_eq!(r("1000").unwrap(), app);
        assert_eq!(r("").unwrap().home, b"/root");
    }

    #[test]
    fn a_group_replaces_the_primary_one_and_drops_the_supplementary_ones() {
        let u = r("app:staff").unwrap();
        assert_eq!((u.uid, u.gid, u.groups.len()), (1000, 50, 0));
        let u = r("1000:7").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 7));
    }

    #[test]
    fn unknown_numbers_run_with_group_0_and_home_slash() {
        let u = r("4242").unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_slice()),
            (4242, 0, b"/".as_slice())
        );
        let u = resolve("4242:4243", None, None).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 4243));
    }

    #[test]
    fn unknown_names_are_docker_errors() {
        assert_eq!(
            r("ghost").unwrap_err(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert!(r("app:ghosts").unwrap_err().contains("group file"));
        assert!(resolve("nobody", None, None).is_err());
    }
}
