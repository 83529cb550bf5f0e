//! The docker-shaped command line: `friscy run [OPTIONS] IMAGE [COMMAND] [ARG...]` with
//! each docker-style option, every image input (a rootfs tar, a `docker save` tar built
//! here, a bundle), the image config applied as `docker run` does, and the user, working
//! directory and permissions the kernel gives the guest. Real Alpine programs, real files.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use friscy_tests::{Run, Temp, alpine_tar, built, docker_save, run};

/// `friscy ARGS...` with a private cache for unpacked images.
fn friscy(cache: &Path, args: &[&str]) -> Run {
    run(Command::new(built("friscy"))
        .env_remove("FRISCY_CACHE")
        .env("XDG_CACHE_HOME", cache)
        .args(args))
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_image_comes_first_and_the_command_after_it() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("positional");
    let r = friscy(&tmp.0, &["run", text(&alpine), "ls", "/"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.lines().any(|l| l == "etc"), "{}", r.stdout);
    // --rootfs stays, with its `--` and with `--rootfs=IMAGE`.
    let r = friscy(
        &tmp.0,
        &[
            "run",
            &format!("--rootfs={}", text(&alpine)),
            "--",
            "cat",
            "/etc/alpine-release",
        ],
    );
    assert_eq!(r.stdout, "3.20.3\n", "{}", r.stderr);
    // Options after the image are the command's.
    let r = friscy(&tmp.0, &["run", text(&alpine), "ls", "-d", "/etc"]);
    assert_eq!(r.stdout, "/etc\n", "{}", r.stderr);
}

#[test]
fn a_docker_save_tar_runs_with_its_config() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("save");
    let save = tmp.0.join("app.tar");
    docker_save(
        &alpine,
        &save,
        r#"{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo $GREETING from $(pwd) as $(id -u):$(id -g) home $HOME"],
            "Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"],"WorkingDir":"/srv","User":"nobody"}"#,
    );
    let cache = tmp.0.join("cache");
    let r = friscy(&cache, &["run", text(&save)]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(0), "hello from /srv as 65534:65534 home /\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("unpacking"),
        "the first run unpacks: {}",
        r.stderr
    );
    // Unpacked once: the second run uses the cache. Arguments replace the cmd, -e wins.
    let r = friscy(
        &cache,
        &["run", "-e", "GREETING=hi", text(&save), "echo $GREETING"],
    );
    assert_eq!(r.stdout, "hi\n", "{}", r.stderr);
    assert!(!r.stderr.contains("unpacking"), "{}", r.stderr);
    // Given as --rootfs it is still an image, not a root filesystem.
    let r = friscy(&cache, &["run", "--rootfs", text(&save), "--", "id -un"]);
    assert_eq!(r.stdout, "nobody\n", "{}", r.stderr);
    // -u and --entrypoint override the image's.
    let r = friscy(
        &cache,
        &["run", "-u", "0", "--entrypoint", "id", text(&save), "-u"],
    );
    assert_eq!(r.stdout, "0\n", "{}", r.stderr);
    // A gzip-compressed one too.
    let gz = tmp.0.join("app.tar.gz");
    let status = Command::new("gzip").arg("-kf").arg(&save).status().unwrap();
    assert!(status.success() && gz.exists());
    let r = friscy(&cache, &["run", "-q", text(&gz), "pwd"]);
    assert_eq!(r.stdout, "/srv\n", "{}", r.stderr);
}

#[test]
fn user_option_sets_ids_home_and_permissions() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("user");
    let a = text(&alpine);
    let r = friscy(
        &tmp.0,
        &[
            "run",
            "-u",
            "nobody",
            a,
            "sh",
            "-c",
            "id -u; id -g; echo $HOME",
        ],
    );
    assert_eq!(r.stdout, "65534\n65534\n/\n", "{}", r.stderr);
    // Root's own files are out of reach, as on Linux.
    let r = friscy(
        &tmp.0,
        &[
            "run",
            "-u",
            "nobody",
            a,
            "sh",
            "-c",
            "touch /etc/x; cat /etc/shadow >/dev/null; ls /root; echo > /tmp/mine; stat -c '%U %a' /tmp/mine",
        ],
    );
    assert_eq!(r.stdout, "nobody 644\n", "{}", r.stderr);
    for denied in [
        "touch: /etc/x: Permission denied",
        "cat: can't open '/etc/shadow': Permission denied",
        "ls: can't open '/root': Permission denied",
    ] {
        assert!(r.stderr.contains(denied), "{denied}: {}", r.stderr);
    }
    // uid:gid without a passwd entry; root is the default, with HOME=/root.
    let r = friscy(&tmp.0, &["run", "--user=1234:5678", a, "id"]);
    assert_eq!(r.stdout, "uid=1234 gid=5678\n", "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", a, "sh", "-c", "id -u; echo $HOME"]);
    assert_eq!(r.stdout, "0\n/root\n", "{}", r.stderr);
    // Root can become another user and back with su, and give files away.
    let r = friscy(
        &tmp.0,
        &[
            "run",
            a,
            "sh",
            "-c",
            "echo x > /tmp/f; chown nobody:nobody /tmp/f; stat -c '%U:%G' /tmp/f; su -s /bin/sh nobody -c 'id -un; touch /root/no'",
        ],
    );
    assert_eq!(r.stdout, "nobody:nobody\nnobody\n", "{}", r.stderr);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", "-u", "ghost", a, "id"]);
    assert_eq!(r.status, Some(125));
    assert!(
        r.stderr.contains("unable to find user ghost"),
        "{}",
        r.stderr
    );
}

/// Lowering one's nice value needs privilege (CAP_SYS_NICE, or RLIMIT_NICE, which is 0):
/// a user may only raise it, as on Linux; root may do both.
#[test]
fn only_root_lowers_a_nice_value() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("nice");
    let script = "nice -n 5 nice; nice -n 5 sh -c 'nice -n -2 nice || echo refused'; ulimit -e";
    let r = friscy(
        &tmp.0,
        &["run", "-u", "nobody", text(&alpine), "sh", "-c", script],
    );
    assert_eq!(r.stdout, "5\nrefused\n0\n", "{}", r.stderr);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", text(&alpine), "sh", "-c", script]);
    assert_eq!(r.stdout, "5\n3\n0\n", "{}", r.stderr);
}

/// No filesystem of friscy's keeps extended attributes, and says so as Linux filesystems
/// without them do: setting or getting one is EOPNOTSUPP, the list is empty (Python's
/// shutil.copy2 takes that as "no xattrs here"; ENOSYS made it fail).
#[test]
fn extended_attributes_are_not_supported_like_on_linux() {
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let tmp = Temp::new("xattr");
    let script = "import os, errno\nopen('/tmp/f', 'w').close()\nprint(os.listxattr('/tmp/f'))\n\
                  for call in (lambda: os.setxattr('/tmp/f', 'user.a', b'1'), lambda: os.getxattr('/tmp/f', 'user.a'), lambda: os.removexattr('/tmp/f', 'user.a')):\n    \
                  try: call()\n    except OSError as e: print(errno.errorcode[e.errno])";
    let r = friscy(&tmp.0, &["run", text(&debian), "python3", "-c", script]);
    // errno 95, EOPNOTSUPP, which Python names ENOTSUP (the same number on Linux).
    assert_eq!(r.stdout, "[]\nENOTSUP\nENOTSUP\nENOTSUP\n", "{}", r.stderr);
}

/// A container cannot set the clock (docker drops CAP_SYS_TIME): EPERM for the real-time
/// clock once the arguments are valid, EINVAL for clocks that cannot be set at all; nor
/// read the kernel log.
#[test]
fn the_clock_cannot_be_set() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("clock");
    // (busybox reports the failure and goes on to print the date it meant.)
    let r = friscy(&tmp.0, &["run", text(&alpine), "date", "-s", "@0"]);
    assert!(
        r.stderr.contains("can't set date: Operation not permitted"),
        "{}",
        r.stderr
    );
    // Nor read the kernel's log (docker drops CAP_SYSLOG).
    let r = friscy(&tmp.0, &["run", text(&alpine), "dmesg"]);
    assert!(
        r.stderr.contains("klogctl: Operation not permitted"),
        "{}",
        r.stderr
    );
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let script = "import time, errno\nfor c, t in ((time.CLOCK_REALTIME, 0), (time.CLOCK_MONOTONIC, 0), (time.CLOCK_REALTIME, -1)):\n    \
                  try: time.clock_settime(c, t)\n    except OSError as e: print(errno.errorcode[e.errno])";
    let r = friscy(&tmp.0, &["run", text(&debian), "python3", "-c", script]);
    assert_eq!(r.stdout, "EPERM\nEINVAL\nEINVAL\n", "{}", r.stderr);
}

/// The interfaces a container started with `--network none` has: `lo` with 127.0.0.1/8
/// and ::1/128, through netlink (getifaddrs, if_nameindex, busybox ip) and the interface
/// ioctls (if_nametoindex). Node's os.networkInterfaces() threw without them.
#[test]
fn the_guest_sees_the_loopback_interface() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("lo");
    let r = friscy(&tmp.0, &["run", text(&alpine), "ip", "addr"]);
    assert!(
        r.stdout
            .starts_with("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.contains("inet 127.0.0.1/8 scope host lo"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("inet6 ::1/128 scope host"),
        "{}",
        r.stdout
    );
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let script = "import socket\nprint(socket.if_nameindex(), socket.if_nametoindex('lo'), socket.if_indextoname(1))\n\
                  try: socket.if_nametoindex('eth0')\nexcept OSError as e: print(e)";
    let r = friscy(&tmp.0, &["run", text(&debian), "python3", "-c", script]);
    assert_eq!(
        r.stdout, "[(1, 'lo')] 1 lo\nno interface with this name\n",
        "{}",
        r.stderr
    );
    let js = "const i = require('os').networkInterfaces(); console.log(Object.keys(i), i.lo.map(a => a.cidr + ' ' + a.internal))";
    let r = friscy(&tmp.0, &["run", text(&debian), "node", "-e", js]);
    assert_eq!(
        r.stdout, "[ 'lo' ] [ '127.0.0.1/8 true', '::1/128 true' ]\n",
        "{}",
        r.stderr
    );
}

/// fexecve (execveat with AT_EMPTY_PATH) of a file and of a memfd, execveat relative to a
/// directory descriptor and its AT_SYMLINK_NOFOLLOW: what the qemu reference cannot show
/// (qemu-user 7.2 answers execveat with ENOSYS).
#[test]
fn execveat_runs_open_files_and_memfds() {
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let tmp = Temp::new("execveat");
    let script = "import os, ctypes\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  def run(child):\n    pid = os.fork()\n    if pid == 0:\n        try: child()\n        except OSError as e: print('error', e.errno, flush=True)\n        os._exit(9)\n    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n\
                  print(run(lambda: os.execve(os.open('/bin/echo', os.O_RDONLY), ['echo', 'from an fd'], {})))\n\
                  def memfd():\n    fd = os.memfd_create('prog', 0)\n    os.write(fd, open('/usr/bin/false', 'rb').read())\n    os.execve(fd, ['false'], {})\n\
                  print(run(memfd))\n\
                  argv = (ctypes.c_char_p * 3)(b'echo', b'relative', None)\n\
                  env = (ctypes.c_char_p * 1)(None)\n\
                  def at(path, flags):\n    d = os.open('/usr/bin', os.O_RDONLY | os.O_DIRECTORY)\n    libc.syscall(281, d, path, argv, env, flags)\n    raise OSError(ctypes.get_errno(), 'execveat')\n\
                  print(run(lambda: at(b'echo', 0)))\n\
                  os.symlink('/usr/bin/echo', '/tmp/link')\n\
                  print(run(lambda: at(b'/tmp/link', 0x100)), run(lambda: at(b'', 0)), run(lambda: at(b'echo', 0x4)))";
    let r = friscy(
        &tmp.0,
        &["run", text(&debian), "python3", "-u", "-c", script],
    );
    assert_eq!(
        r.stdout, "from an fd\n0\n1\nrelative\n0\nerror 40\nerror 2\nerror 22\n9 9 9\n",
        "{}",
        r.stderr
    );
}

/// /proc/PID/fd lists at stable positions: CPython's subprocess closes the descriptors
/// it reads from /proc/self/fd between getdents calls (close_fds with pass_fds when
/// close_range cannot cover it), and none may be skipped (the qemu reference cannot show
/// this: its children kept them).
#[test]
fn close_fds_closes_every_descriptor_but_the_passed_one() {
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let tmp = Temp::new("closefds");
    let script = "import os, subprocess\n\
                  open_fds = []\n\
                  for x in range(5):\n    fds = os.pipe(); os.set_inheritable(fds[0], True); os.set_inheritable(fds[1], True); open_fds += fds\n\
                  env = {'ALL': ' '.join(map(str, open_fds))}\n\
                  for i in (0, 5, 9):\n    \
                  out = subprocess.check_output(['sh', '-c', 'for f in /proc/self/fd/*; do n=${f##*/}; [ -e \"$f\" ] && case \" $ALL \" in *\" $n \"*) echo -n \"$n \";; esac; done; true'], close_fds=True, pass_fds=(open_fds[i],), env=env)\n    \
                  print(i, [int(fd) - open_fds[0] for fd in out.split()])";
    let r = friscy(&tmp.0, &["run", text(&debian), "python3", "-c", script]);
    assert_eq!(r.stdout, "0 [0]\n5 [5]\n9 [9]\n", "{}", r.stderr);
}

/// A shared file mapping larger than the memory limit fails with ENOMEM and leaves
/// nothing behind (its frames were held until the OOM killer came); a smaller one works.
#[test]
fn a_shared_mapping_past_the_memory_limit_is_enomem_and_leaks_nothing() {
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let tmp = Temp::new("shmlimit");
    let script = "import mmap\n\
                  def free(): return int(open('/proc/meminfo').read().split('\\n')[1].split()[1])\n\
                  f = open('/tmp/full', 'w+b')\n\
                  for i in range(80): f.write(b'\\x01' * (1 << 20))\n\
                  f.flush(); before = free()\n\
                  try: mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n\
                  except OSError as e: print('mmap', e.errno)\n\
                  print('free again', abs(free() - before) < 1024)\n\
                  m = mmap.mmap(f.fileno(), 1 << 20, access=mmap.ACCESS_READ); print(m[5], m[(1 << 20) - 1])";
    let r = friscy(
        &tmp.0,
        &[
            "run",
            "--memory",
            "64m",
            text(&debian),
            "python3",
            "-c",
            script,
        ],
    );
    assert_eq!(r.stdout, "mmap 12\nfree again True\n1 1\n", "{}", r.stderr);
}

/// /proc/PID/cmdline reads the argument strings as they are now: nginx's processes
/// retitle themselves (setproctitle over argv and the environment after it), and ps
/// shows the titles (the qemu reference cannot: ps there reads qemu's own arguments).
#[test]
fn ps_shows_the_titles_nginx_gives_its_processes() {
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let tmp = Temp::new("proctitle");
    let script = "printf 'pid /tmp/n.pid; events {} http { server { listen 127.0.0.1:8080; } }' > /tmp/n.conf; \
                  nginx -c /tmp/n.conf && sleep 1; ps -o args= -C nginx | sort; \
                  cat /proc/self/cmdline | tr '\\0' ' '; echo; nginx -c /tmp/n.conf -s quit 2>/dev/null";
    let r = friscy(&tmp.0, &["run", text(&debian), "bash", "-c", script]);
    assert_eq!(
        r.stdout,
        "nginx: master process nginx -c /tmp/n.conf\nnginx: worker process\ncat /proc/self/cmdline \n",
        "{}",
        r.stderr
    );
}

/// A POSIX timer id is an int: the upper half of the register is ignored, as Linux does
/// (a 64-bit id once indexed the kernel's table past its end).
#[test]
fn timer_ids_are_ints() {
    let Some(debian) = friscy_tests::debian_tar() else {
        return;
    };
    let tmp = Temp::new("timerid");
    let script = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nt = ctypes.c_int()\n\
                  print(libc.syscall(107, 1, None, ctypes.byref(t)), t.value)\n\
                  print(libc.syscall(109, ctypes.c_long((1 << 32) | t.value)), libc.syscall(111, ctypes.c_long((1 << 32) | t.value)))\n\
                  print(libc.syscall(111, t.value), ctypes.get_errno())";
    let r = friscy(&tmp.0, &["run", text(&debian), "python3", "-c", script]);
    assert_eq!(r.stdout, "0 0\n0 0\n-1 22\n", "{}", r.stderr);
}

#[test]
fn proc_sys_is_read_only_and_follows_the_container() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("procsys");
    // The values this kernel works by (what the reference cannot show: its /proc/sys is
    // the host's), and EROFS for writes, as Docker mounts /proc/sys read-only.
    let script = "cat /proc/sys/kernel/hostname /proc/sys/kernel/osrelease /proc/sys/vm/overcommit_memory; \
                  sysctl -n fs.nr_open; \
                  [ \"$(cat /proc/sys/kernel/random/boot_id)\" = \"$(cat /proc/sys/kernel/random/boot_id)\" ] && echo same boot_id; \
                  [ \"$(cat /proc/sys/kernel/random/uuid)\" != \"$(cat /proc/sys/kernel/random/uuid)\" ] && echo new uuids; \
                  echo 1 > /proc/sys/vm/overcommit_memory; echo $?; \
                  cd /proc/sys/net/ipv4 && pwd -P && ls ..";
    let r = friscy(
        &tmp.0,
        &[
            "run",
            "--hostname",
            "box",
            text(&alpine),
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(
        r.stdout,
        "box\n6.6.0-friscy\n2\n1048576\nsame boot_id\nnew uuids\n1\n/proc/sys/net/ipv4\ncore\nipv4\n",
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
}

#[test]
fn workdir_entrypoint_hostname_and_environment() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("opts");
    let a = text(&alpine);
    let r = friscy(&tmp.0, &["run", "-w", "/usr/share", a, "pwd"]);
    assert_eq!(r.stdout, "/usr/share\n", "{}", r.stderr);
    // A missing working directory is made, as docker does.
    let r = friscy(&tmp.0, &["run", "--workdir=/new/place", a, "pwd"]);
    assert_eq!(r.stdout, "/new/place\n", "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", "--entrypoint", "/bin/echo", a, "a", "b"]);
    assert_eq!(r.stdout, "a b\n", "{}", r.stderr);
    let r = friscy(
        &tmp.0,
        &[
            "run",
            "--hostname",
            "box",
            a,
            "sh",
            "-c",
            "hostname; echo $HOSTNAME",
        ],
    );
    assert_eq!(r.stdout, "box\nbox\n", "{}", r.stderr);
    let env_file = tmp.0.join("env");
    std::fs::write(&env_file, "# a comment\nA=from file\nB=b\n").unwrap();
    let r = run(Command::new(built("friscy"))
        .env("CLI_TEST_HOST_VALUE", "ours")
        .args([
            "run",
            "--env-file",
            text(&env_file),
            "-eB=cli",
            "-e",
            "CLI_TEST_HOST_VALUE",
            "-e",
            "CLI_TEST_UNSET_VALUE",
            a,
            "sh",
            "-c",
            "echo \"$A|$B|$CLI_TEST_HOST_VALUE|${CLI_TEST_UNSET_VALUE-unset}\"",
        ]));
    assert_eq!(r.stdout, "from file|cli|ours|unset\n", "{}", r.stderr);
    // --rm and --name are accepted (nothing is kept; there is no container list).
    let r = friscy(&tmp.0, &["run", "--rm", "--name", "x", a, "true"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
}

#[test]
fn stdin_is_open_only_with_i() {
    let Some(alpine) = alpine_tar() else { return };
    let a = text(&alpine);
    let cat = |flags: &[&str]| {
        let mut child = Command::new(built("friscy"))
            .arg("run")
            .args(flags)
            .args([a, "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
        Run::from(child.wait_with_output().unwrap())
    };
    assert_eq!(cat(&["-i"]).stdout, "typed\n");
    assert_eq!(cat(&[]).stdout, "");
}

#[test]
fn read_only_root_with_writable_tmpfs() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("ro");
    let r = friscy(
        &tmp.0,
        &[
            "run",
            "--read-only",
            "--tmpfs",
            "/run",
            text(&alpine),
            "sh",
            "-c",
            "touch /etc/x; echo ok > /run/f; cat /run/f; echo fine > /dev/null; stat -c %a /run; mkdir /tmp/d",
        ],
    );
    assert_eq!(r.stdout, "ok\n1777\n", "{}", r.stderr);
    assert!(
        r.stderr.contains("touch: /etc/x: Read-only file system"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("mkdir: can't create directory '/tmp/d': Read-only file system"),
        "{}",
        r.stderr
    );
}

#[test]
fn typos_are_short_errors_with_suggestions() {
    let tmp = Temp::new("typo");
    let r = friscy(&tmp.0, &["run", "--entrypiont", "x", "img"]);
    assert_eq!(r.status, Some(2));
    assert!(r.stderr.contains("--entrypoint"), "{}", r.stderr);
    assert!(r.stderr.lines().count() <= 8, "short: {}", r.stderr);
    let r = friscy(&tmp.0, &["runn"]);
    assert_eq!(r.status, Some(2));
    assert!(r.stderr.contains("run"), "{}", r.stderr);
    // A value missing before `--` is an error, not a swallowed separator.
    let r = friscy(&tmp.0, &["run", "-e", "--", "ls"]);
    assert_eq!(r.status, Some(2), "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", "-p", "80:80", "img"]);
    assert_eq!(r.status, Some(2));
    assert!(r.stderr.contains("--net"), "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", "/no/such/image.tar", "ls"]);
    assert_eq!(r.status, Some(125));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // --help fits one screen.
    let r = friscy(&tmp.0, &["run", "--help"]);
    assert_eq!(r.status, Some(0));
    assert!(r.stdout.lines().count() <= 50, "{}", r.stdout);
}

/// A file that is not an image is one short, printable line from both tools (the tar
/// crate's own error quotes the unparsable bytes), and a non-zero exit.
#[test]
fn a_file_that_is_not_an_image_is_one_printable_line() {
    let tmp = Temp::new("notimage");
    let junk = tmp.0.join("junk.tar");
    // Bytes no tar header has: a checksum field of non-digits.
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    std::fs::write(&junk, &bytes).unwrap();
    let r = run(Command::new(built("friscy-pack"))
        .arg(&junk)
        .arg("-o")
        .arg(tmp.0.join("out")));
    assert_eq!(r.status, Some(1), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not a readable tar archive"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.is_ascii() && r.stderr.len() < 200, "{}", r.stderr);
    let r = friscy(&tmp.0, &["run", text(&junk), "ls"]);
    assert_eq!(r.status, Some(125), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.is_ascii() && r.stderr.len() < 200, "{}", r.stderr);
}

#[test]
fn completions_are_generated_for_each_shell() {
    let tmp = Temp::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let r = friscy(&tmp.0, &["completions", shell]);
        assert_eq!(r.status, Some(0), "{}", r.stderr);
        assert!(
            r.stdout.contains("entrypoint") && r.stdout.len() > 1000,
            "{shell}"
        );
    }
    for tool in ["friscy-pack", "friscy-proxy"] {
        let r = run(Command::new(built(tool)).args(["completions", "bash"]));
        assert_eq!(r.status, Some(0), "{tool}: {}", r.stderr);
        assert!(r.stdout.contains(tool), "{tool}");
    }
}

/// `--version` names what runs: wasmtime's version and each component by size and hash.
#[test]
fn versions_name_the_engine_and_the_components() {
    let r = run(Command::new(built("friscy")).arg("--version"));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("wasmtime 48."), "{}", r.stdout);
    let fused = r
        .stdout
        .lines()
        .find(|l| l.contains("friscy-fused-open.wasm"))
        .unwrap_or_else(|| panic!("no default component line:\n{}", r.stdout));
    assert!(fused.contains("sha256:"), "{fused}");

    let r = run(Command::new(built("friscy-pack")).arg("--version"));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    for name in ["kernel-fused", "exec", "vfs", "net", "console-wasi"] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line:\n{}", r.stdout));
        assert!(line.contains("sha256:"), "{line}");
    }
    assert!(r.stdout.contains("wasmtime 48."), "{}", r.stdout);
    // -V stays the one-line short form.
    let r = run(Command::new(built("friscy-pack")).arg("-V"));
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
}
