//! The containerd shim v2 API (`containerd.task.v2.Task` over ttrpc): create, start,
//! kill, wait, state, pids, delete, resize and shutdown for the containers of this shim
//! (one: containerd starts a shim per container). Each container is a task process
//! (`task.rs`, `runner.rs`); its exit reaches us through containerd-shim's reaper, which
//! waits for every child and notifies the monitor we subscribe to, and goes to containerd
//! as a `/tasks/exit` event.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use containerd_shim::monitor::{Subject, Topic, monitor_subscribe};
use containerd_shim::protos::api::{self, Status as ApiStatus};
use containerd_shim::protos::events::task as events;
use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{
    Config, Context, DeleteResponse, ExitSignal, Flags, StartOpts, TtrpcContext, TtrpcResult,
};
use log::{info, warn};

use crate::plan;
use crate::runner::Control;
use crate::task::{Status, Task, mount_rootfs, wait_ready};

pub struct Service {
    exit: Arc<ExitSignal>,
    namespace: String,
}

#[derive(Default)]
struct Tasks {
    tasks: Mutex<HashMap<String, Task>>,
    /// Signalled on every exit.
    exited: Condvar,
}

/// The task service containerd calls.
#[derive(Clone)]
pub struct TaskService {
    state: Arc<Tasks>,
    publisher: Arc<RemotePublisher>,
    namespace: String,
    exit: Arc<ExitSignal>,
}

fn error(code: ttrpc::Code, msg: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.into()))
}

fn not_found(id: &str) -> ttrpc::Error {
    error(ttrpc::Code::NOT_FOUND, format!("container {id} not found"))
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut t = Timestamp::new();
    t.seconds = d.as_secs() as i64;
    t.nanos = d.subsec_nanos() as i32;
    t
}

impl containerd_shim::Shim for Service {
    type T = TaskService;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Service {
            exit: Arc::new(ExitSignal::default()),
            namespace: args.namespace.clone(),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> Result<String, containerd_shim::Error> {
        // One shim per container: the container's id groups nothing else.
        let grouping = opts.id.clone();
        let (_, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        containerd_shim::util::write_address(&address)?;
        Ok(address)
    }

    fn delete_shim(&mut self) -> Result<DeleteResponse, containerd_shim::Error> {
        // containerd calls this after the shim died (cwd is the bundle): clean up what a
        // live shim's delete would have.
        if let Ok(bundle) = std::env::current_dir() {
            crate::task::unmount_rootfs(&bundle.join("rootfs"));
        }
        let mut resp = DeleteResponse::new();
        resp.exit_status = 137;
        resp.exited_at = Some(now()).into();
        Ok(resp)
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Self::T {
        let service = TaskService {
            state: Arc::new(Tasks::default()),
            publisher: Arc::new(publisher),
            namespace: self.namespace.clone(),
            exit: self.exit.clone(),
        };
        let monitor = service.clone();
        match monitor_subscribe(Topic::Pid) {
            Ok(sub) => {
                std::thread::spawn(move || {
                    for event in sub.rx.iter() {
                        if let Subject::Pid(pid) = event.subject {
                            monitor.reaped(pid, event.exit_code);
                        }
                    }
                });
            }
            Err(e) => warn!("cannot watch for exits: {e}"),
        }
        service
    }
}

impl TaskService {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Task>> {
        self.state.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, topic: &str, event: Box<dyn MessageDyn>) {
        if let Err(e) = self
            .publisher
            .publish(Context::default(), topic, &self.namespace, event)
        {
            warn!("publishing {topic}: {e}");
        }
    }

    /// A child of ours has exited (the reaper waited for it).
    fn reaped(&self, pid: i32, code: i32) {
        let mut tasks = self.lock();
        let Some(task) = tasks.values_mut().find(|t| t.pid as i32 == pid) else {
            return;
        };
        let at = now();
        task.exited(code as u32, at.clone());
        info!("container {} exited with status {code}", task.id);
        let event = events::TaskExit {
            container_id: task.id.clone(),
            id: task.id.clone(),
            pid: task.pid,
            exit_status: code as u32,
            exited_at: Some(at).into(),
            ..Default::default()
        };
        drop(tasks);
        self.state.exited.notify_all();
        self.publish(topics::TASK_EXIT_EVENT_TOPIC, Box::new(event));
    }

    /// Block until the task has exited; its status and time.
    fn wait_exit(&self, id: &str) -> TtrpcResult<(u32, u32, Timestamp)> {
        let mut tasks = self.lock();
        loop {
            let task = tasks.get(id).ok_or_else(|| not_found(id))?;
            if let Some((status, at)) = &task.exit {
                return Ok((task.pid, *status, at.clone()));
            }
            tasks = self
                .state
                .exited
                .wait(tasks)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    fn create_task(&self, req: &api::CreateTaskRequest) -> anyhow::Result<u32> {
        let bundle = PathBuf::from(&req.bundle);
        let mut plan = plan::load(&bundle)?;
        for note in &plan.notes {
            info!("container {}: {note}", req.id);
        }
        plan.terminal = req.terminal;
        plan.stdio = plan::Stdio {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
        };
        let mounted = if req.rootfs.is_empty() {
            None
        } else {
            mount_rootfs(&req.rootfs, &plan.rootfs)?;
            Some(plan.rootfs.clone())
        };
        let spawned = {
            let mut tasks = self.lock();
            if tasks.contains_key(&req.id) {
                anyhow::bail!("container {} already exists", req.id);
            }
            // Registered under the lock, so the exit of a task process that dies at once
            // finds it.
            Task::spawn(&req.id, &bundle, &plan, mounted.clone()).map(|(task, status)| {
                let pid = task.pid;
                tasks.insert(req.id.clone(), task);
                (pid, status)
            })
        };
        let (pid, mut status) = match spawned {
            Ok(s) => s,
            Err(e) => {
                if let Some(m) = &mounted {
                    crate::task::unmount_rootfs(m);
                }
                return Err(e);
            }
        };
        if let Err(e) = wait_ready(&mut status) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            if let Some(mut task) = self.lock().remove(&req.id) {
                task.release();
            }
            return Err(e);
        }
        Ok(pid)
    }
}

impl containerd_shim::Task for TaskService {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TtrpcResult<api::CreateTaskResponse> {
        info!("create {} in {}", req.id, req.bundle);
        let pid = self
            .create_task(&req)
            .map_err(|e| error(ttrpc::Code::FAILED_PRECONDITION, format!("{e:#}")))?;
        self.publish(
            topics::TASK_CREATE_EVENT_TOPIC,
            Box::new(events::TaskCreate {
                container_id: req.id.clone(),
                bundle: req.bundle.clone(),
                rootfs: req.rootfs.clone(),
                io: Some(events::TaskIO {
                    stdin: req.stdin.clone(),
                    stdout: req.stdout.clone(),
                    stderr: req.stderr.clone(),
                    terminal: req.terminal,
                    ..Default::default()
                })
                .into(),
                pid,
                ..Default::default()
            }),
        );
        Ok(api::CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }

    fn start(
        &self,
        _ctx: &TtrpcContext,
        req: api::StartRequest,
    ) -> TtrpcResult<api::StartResponse> {
        let pid = {
            let mut tasks = self.lock();
            let task = tasks.get_mut(&req.id).ok_or_else(|| not_found(&req.id))?;
            if task.status != Status::Created {
                return Err(error(
                    ttrpc::Code::FAILED_PRECONDITION,
                    format!("container {} is not in the created state", req.id),
                ));
            }
            task.send(Control::Start);
            task.status = Status::Running;
            task.pid
        };
        self.publish(
            topics::TASK_START_EVENT_TOPIC,
            Box::new(events::TaskStart {
                container_id: req.id.clone(),
                pid,
                ..Default::default()
            }),
        );
        Ok(api::StartResponse {
            pid,
            ..Default::default()
        })
    }

    fn kill(&self, _ctx: &TtrpcContext, req: api::KillRequest) -> TtrpcResult<api::Empty> {
        info!("kill {} with signal {}", req.id, req.signal);
        let mut tasks = self.lock();
        let task = tasks.get_mut(&req.id).ok_or_else(|| not_found(&req.id))?;
        if task.status == Status::Stopped {
            return Err(error(ttrpc::Code::NOT_FOUND, "process already finished"));
        }
        let signal = u8::try_from(req.signal)
            .ok()
            .filter(|&s| (1..=64).contains(&s))
            .ok_or_else(|| error(ttrpc::Code::INVALID_ARGUMENT, "no such signal"))?;
        if signal == 9 {
            // SIGKILL cannot be handed to the guest to handle: end the task process.
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(task.pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .map_err(|e| error(ttrpc::Code::INTERNAL, e.to_string()))?;
        } else {
            task.send(Control::Signal(signal));
        }
        Ok(api::Empty::new())
    }

    fn wait(&self, _ctx: &TtrpcContext, req: api::WaitRequest) -> TtrpcResult<api::WaitResponse> {
        let (_, status, at) = self.wait_exit(&req.id)?;
        Ok(api::WaitResponse {
            exit_status: status,
            exited_at: Some(at).into(),
            ..Default::default()
        })
    }

    fn state(
        &self,
        _ctx: &TtrpcContext,
        req: api::StateRequest,
    ) -> TtrpcResult<api::StateResponse> {
        let tasks = self.lock();
        let task = tasks.get(&req.id).ok_or_else(|| not_found(&req.id))?;
        let mut resp = api::StateResponse {
            id: task.id.clone(),
            bundle: task.bundle.to_string_lossy().into_owned(),
            pid: task.pid,
            status: match task.status {
                Status::Created => ApiStatus::CREATED,
                Status::Running => ApiStatus::RUNNING,
                Status::Stopped => ApiStatus::STOPPED,
            }
            .into(),
            stdin: task.stdio.stdin.clone(),
            stdout: task.stdio.stdout.clone(),
            stderr: task.stdio.stderr.clone(),
            terminal: task.terminal,
            ..Default::default()
        };
        if let Some((status, at)) = &task.exit {
            resp.exit_status = *status;
            resp.exited_at = Some(at.clone()).into();
        }
        Ok(resp)
    }

    fn pids(&self, _ctx: &TtrpcContext, req: api::PidsRequest) -> TtrpcResult<api::PidsResponse> {
        let tasks = self.lock();
        let task = tasks.get(&req.id).ok_or_else(|| not_found(&req.id))?;
        // The guest's processes live inside the one task process.
        let processes = match task.status {
            Status::Stopped => Vec::new(),
            _ => vec![api::ProcessInfo {
                pid: task.pid,
                ..Default::default()
            }],
        };
        Ok(api::PidsResponse {
            processes,
            ..Default::default()
        })
    }

    fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> TtrpcResult<api::DeleteResponse> {
        info!("delete {}", req.id);
        let status = self
            .lock()
            .get(&req.id)
            .map(|t| (t.status, t.pid))
            .ok_or_else(|| not_found(&req.id))?;
        match status {
            (Status::Running, _) => {
                return Err(error(
                    ttrpc::Code::FAILED_PRECONDITION,
                    format!("container {} is running: kill it first", req.id),
                ));
            }
            (Status::Created, pid) => {
                // Never started: end the waiting task process.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            (Status::Stopped, _) => {}
        }
        let (pid, exit_status, at) = self.wait_exit(&req.id)?;
        if let Some(mut task) = self.lock().remove(&req.id) {
            task.release();
        }
        self.publish(
            topics::TASK_DELETE_EVENT_TOPIC,
            Box::new(events::TaskDelete {
                container_id: req.id.clone(),
                pid,
                exit_status,
                exited_at: Some(at.clone()).into(),
                ..Default::default()
            }),
        );
        Ok(api::DeleteResponse {
            pid,
            exit_status,
            exited_at: Some(at).into(),
            ..Default::default()
        })
    }

    fn resize_pty(
        &self,
        _ctx: &TtrpcContext,
        req: api::ResizePtyRequest,
    ) -> TtrpcResult<api::Empty> {
        let mut tasks = self.lock();
        let task = tasks.get_mut(&req.id).ok_or_else(|| not_found(&req.id))?;
        let clamp = |n: u32| n.min(u16::MAX as u32) as u16;
        task.send(Control::Resize(clamp(req.height), clamp(req.width)));
        Ok(api::Empty::new())
    }

    fn close_io(&self, _ctx: &TtrpcContext, req: api::CloseIORequest) -> TtrpcResult<api::Empty> {
        // The guest reads end of file on stdin once the client closes its end of the FIFO;
        // nothing of ours holds it open.
        if !self.lock().contains_key(&req.id) {
            return Err(not_found(&req.id));
        }
        Ok(api::Empty::new())
    }

    fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: api::ConnectRequest,
    ) -> TtrpcResult<api::ConnectResponse> {
        let task_pid = self.lock().get(&req.id).map(|t| t.pid).unwrap_or(0);
        Ok(api::ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: api::ShutdownRequest) -> TtrpcResult<api::Empty> {
        if self.lock().is_empty() {
            self.exit.signal();
        }
        Ok(api::Empty::new())
    }
}
