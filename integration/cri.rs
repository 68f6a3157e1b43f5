//! `hardened` on a Kubernetes node: containerd's CRI plugin driven over its gRPC API (runtime.v1
//! `RuntimeService` and `ImageService`, on containerd's unix socket) the way the kubelet drives
//! it, for pods whose RuntimeClass handler is `hardened`.
//!
//! Needs root and the private CRI containerd that `scripts/daemons.sh` starts (it exports
//! `HARDENED_TEST_CRI*`): its handler `hardened` runs this runtime through the runc v2 shim with
//! the policy `DIR/policy/cri.toml` (built-in defaults plus the operator profile `netadmin`,
//! allowing `NET_ADMIN`); its only CNI plugin is loopback. Every pod carries a unique label and
//! is stopped and removed on drop, pass or fail, with its cgroups.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::security_profile::ProfileType;
use k8s_cri::v1::*;
use serde_json::Value;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Response, Status};

use common::{hardened_bin, run, test_env, unique, wait_until};

/// The runtime handler (a RuntimeClass's `handler`) that runs `hardened`.
const HANDLER: &str = "hardened";
/// The label that tags every pod of these tests with a unique value.
const TAG_LABEL: &str = "io.hardened.test";
/// How long one CRI call may take (a debug build of the runtime is slow).
const RPC_DEADLINE: Duration = Duration::from_secs(90);

/// The kubelet's default masked and read-only paths (what it sends for a non-privileged
/// container).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A CRI client on the private containerd's socket.
struct Cri {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl Cri {
    fn connect() -> Self {
        common::require_root();
        let socket = test_env("HARDENED_TEST_CRI");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let path = socket.clone();
        // As the kubelet does: HTTP/2 over the unix socket (the URI is not used).
        let channel = rt
            .block_on(async move {
                Endpoint::try_from("http://[::]:0")
                    .expect("endpoint")
                    .connect_timeout(Duration::from_secs(10))
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
                    .await
            })
            .unwrap_or_else(|e| panic!("cannot connect to the CRI socket {socket}: {e}"));
        let cri = Cri {
            rt,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        };
        let version = cri
            .call("Version", |mut c| async move {
                c.version(VersionRequest::default()).await
            })
            .unwrap_or_else(|e| panic!("CRI Version on {}: {e:?}", test_env("HARDENED_TEST_CRI")));
        assert_eq!(version.runtime_name, "containerd", "{version:?}");
        cri
    }

    /// One RuntimeService call, bounded by `RPC_DEADLINE`.
    fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Status>
    where
        F: FnOnce(RuntimeServiceClient<Channel>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let fut = f(self.runtime.clone());
        self.rt.block_on(async {
            match tokio::time::timeout(RPC_DEADLINE, fut).await {
                Ok(r) => r.map(Response::into_inner),
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "{what}: no answer within {RPC_DEADLINE:?}"
                ))),
            }
        })
    }

    /// `ImageStatus`, as the kubelet asks before it would pull: the image must be there.
    fn require_image(&self, image: &str) -> Image {
        let mut c = self.images.clone();
        let req = ImageStatusRequest {
            image: Some(image_spec(image)),
            verbose: false,
        };
        let resp = self
            .rt
            .block_on(async { tokio::time::timeout(RPC_DEADLINE, c.image_status(req)).await })
            .unwrap_or_else(|_| panic!("ImageStatus {image}: no answer"))
            .unwrap_or_else(|e| panic!("ImageStatus {image}: {e:?}"))
            .into_inner();
        resp.image.unwrap_or_else(|| {
            panic!("{image} is not in the CRI containerd (scripts/daemons.sh imports it)")
        })
    }

    fn container_status(&self, id: &str) -> ContainerStatus {
        let req = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        };
        self.call("ContainerStatus", |mut c| async move {
            c.container_status(req).await
        })
        .unwrap_or_else(|e| panic!("ContainerStatus {id}: {e:?}"))
        .status
        .unwrap_or_else(|| panic!("ContainerStatus {id}: no status"))
    }

    fn exec_sync(&self, id: &str, cmd: &[&str]) -> ExecSyncResponse {
        let req = ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 30,
        };
        self.call("ExecSync", |mut c| async move { c.exec_sync(req).await })
            .unwrap_or_else(|e| panic!("ExecSync {cmd:?} in {id}: {e:?}"))
    }

    /// `ExecSync` that must succeed; returns its stdout.
    fn exec_ok(&self, id: &str, cmd: &[&str]) -> String {
        let out = self.exec_sync(id, cmd);
        assert_eq!(
            out.exit_code,
            0,
            "ExecSync {cmd:?}: exit {}, stdout {:?}, stderr {:?}",
            out.exit_code,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start_container(&self, id: &str) -> Result<(), Status> {
        let req = StartContainerRequest {
            container_id: id.to_string(),
        };
        self.call("StartContainer", |mut c| async move {
            c.start_container(req).await
        })
        .map(drop)
    }

    fn stop_container(&self, id: &str, timeout: i64) -> Result<(), Status> {
        let req = StopContainerRequest {
            container_id: id.to_string(),
            timeout,
        };
        self.call("StopContainer", |mut c| async move {
            c.stop_container(req).await
        })
        .map(drop)
    }

    fn remove_container(&self, id: &str) -> Result<(), Status> {
        let req = RemoveContainerRequest {
            container_id: id.to_string(),
        };
        self.call("RemoveContainer", |mut c| async move {
            c.remove_container(req).await
        })
        .map(drop)
    }

    fn stop_pod(&self, id: &str) -> Result<(), Status> {
        let req = StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.call("StopPodSandbox", |mut c| async move {
            c.stop_pod_sandbox(req).await
        })
        .map(drop)
    }

    fn remove_pod(&self, id: &str) -> Result<(), Status> {
        let req = RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.call("RemovePodSandbox", |mut c| async move {
            c.remove_pod_sandbox(req).await
        })
        .map(drop)
    }

    /// The sandboxes labelled with `tag`.
    fn pods_tagged(&self, tag: &str) -> Result<Vec<PodSandbox>, Status> {
        let req = ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                label_selector: HashMap::from([(TAG_LABEL.to_string(), tag.to_string())]),
                ..Default::default()
            }),
        };
        self.call("ListPodSandbox", |mut c| async move {
            c.list_pod_sandbox(req).await
        })
        .map(|r| r.items)
    }

    fn containers_of(&self, pod: &str) -> Result<Vec<Container>, Status> {
        let req = ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: pod.to_string(),
                ..Default::default()
            }),
        };
        self.call("ListContainers", |mut c| async move {
            c.list_containers(req).await
        })
        .map(|r| r.containers)
    }
}

fn image_spec(image: &str) -> ImageSpec {
    ImageSpec {
        image: image.to_string(),
        user_specified_image: image.to_string(),
        ..Default::default()
    }
}

fn busybox() -> String {
    test_env("HARDENED_TEST_CRI_IMAGE")
}

/// The cgroup below which the test pods live (`scripts/daemons.sh` removes it when it stops).
fn cgroup_parent() -> String {
    test_env("HARDENED_TEST_CRI_CGROUP_PARENT")
}

/// What a test pod asks for: the parts of a Pod spec that the kubelet turns into CRI.
#[derive(Default, Clone)]
struct PodSpec {
    annotations: Vec<(&'static str, &'static str)>,
    /// `privileged: true` in the sandbox's security context (needed for a privileged container).
    privileged: bool,
    host_pid: bool,
    host_network: bool,
    /// `seccompProfile: RuntimeDefault` (else Unconfined, the kubelet's default).
    runtime_default_seccomp: bool,
}

/// A container of a test pod.
#[derive(Clone)]
struct ContainerSpec {
    name: &'static str,
    command: Vec<String>,
    add_capabilities: Vec<&'static str>,
    privileged: bool,
}

impl ContainerSpec {
    /// A long-running container that prints "started" and exits 0 on SIGTERM.
    fn sleeper(name: &'static str) -> Self {
        ContainerSpec {
            name,
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo started; trap 'exit 0' TERM; sleep 3600 & wait".into(),
            ],
            add_capabilities: vec![],
            privileged: false,
        }
    }
}

/// A pod of one test. Its sandboxes are found by its unique label, so that `Drop` removes
/// whatever a failed `RunPodSandbox` may have left, with its containers and cgroups.
struct Pod<'a> {
    cri: &'a Cri,
    tag: String,
    spec: PodSpec,
    config: PodSandboxConfig,
    /// Logs, and the host files the kubelet would bind-mount into containers.
    dir: tempfile::TempDir,
    /// The sandbox ID once `RunPodSandbox` succeeded.
    id: Option<String>,
}

impl<'a> Pod<'a> {
    fn new(cri: &'a Cri, spec: PodSpec) -> Self {
        let tag = unique("hcri");
        let dir = tempfile::Builder::new()
            .prefix("hardened-cri-pod-")
            .tempdir()
            .expect("temp dir");
        let uid = format!("{tag}-uid");
        let mut annotations: HashMap<String, String> = spec
            .annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        annotations.insert("kubernetes.io/config.source".into(), "api".into());
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: tag.clone(),
                uid: uid.clone(),
                namespace: "hardened-test".into(),
                attempt: 0,
            }),
            hostname: tag.clone(),
            log_directory: dir.path().join("logs").display().to_string(),
            dns_config: Some(DnsConfig {
                servers: vec!["127.0.0.1".into()],
                searches: vec![],
                options: vec![],
            }),
            labels: HashMap::from([
                ("io.kubernetes.pod.name".into(), tag.clone()),
                ("io.kubernetes.pod.namespace".into(), "hardened-test".into()),
                ("io.kubernetes.pod.uid".into(), uid),
                (TAG_LABEL.into(), tag.clone()),
            ]),
            annotations,
            linux: Some(LinuxPodSandboxConfig {
                // The kubelet (cgroupfs driver) puts each pod in a cgroup of its own, below
                // one of its own ("/kubepods/..."); here below one of the test daemon's.
                cgroup_parent: format!("{}/{tag}", cgroup_parent()),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces(&spec)),
                    privileged: spec.privileged,
                    seccomp: Some(seccomp(&spec)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        std::fs::create_dir_all(dir.path().join("logs")).expect("log dir");
        Pod {
            cri,
            tag,
            spec,
            config,
            dir,
            id: None,
        }
    }

    /// `RunPodSandbox` with the `hardened` handler.
    fn run(&mut self) -> Result<String, Status> {
        let req = RunPodSandboxRequest {
            config: Some(self.config.clone()),
            runtime_handler: HANDLER.into(),
        };
        let id = self
            .cri
            .call("RunPodSandbox", |mut c| async move {
                c.run_pod_sandbox(req).await
            })?
            .pod_sandbox_id;
        self.id = Some(id.clone());
        Ok(id)
    }

    fn id(&self) -> &str {
        self.id.as_deref().expect("the pod is not running")
    }

    fn status(&self) -> PodSandboxStatus {
        let req = PodSandboxStatusRequest {
            pod_sandbox_id: self.id().to_string(),
            verbose: false,
        };
        self.cri
            .call("PodSandboxStatus", |mut c| async move {
                c.pod_sandbox_status(req).await
            })
            .unwrap_or_else(|e| panic!("PodSandboxStatus: {e:?}"))
            .status
            .expect("PodSandboxStatus: no status")
    }

    /// `CreateContainer` in this pod, as the kubelet builds the request.
    fn create_container(&self, c: &ContainerSpec) -> Result<String, Status> {
        let image = busybox();
        // The kubelet's per-container files: its /etc/hosts and the termination log.
        let files = self.dir.path().join("containers").join(c.name);
        std::fs::create_dir_all(&files).expect("container dir");
        std::fs::write(files.join("etc-hosts"), "127.0.0.1\tlocalhost\n").expect("hosts");
        std::fs::write(files.join("termination-log"), "").expect("termination log");
        // A hostPath volume and a service-account token, where the kubelet puts them: beneath
        // the scratch tmpfs mounts.
        std::fs::create_dir_all(files.join("volume")).expect("volume dir");
        std::fs::write(files.join("volume/f"), "hostpath\n").expect("volume file");
        std::fs::create_dir_all(files.join("token")).expect("token dir");
        std::fs::write(files.join("token/token"), "sa-token\n").expect("token file");
        std::fs::create_dir_all(self.dir.path().join("logs").join(c.name)).expect("log dir");
        let mount = |host: &str, container: &str| Mount {
            container_path: container.into(),
            host_path: files.join(host).display().to_string(),
            ..Default::default()
        };
        let privileged = c.privileged;
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: c.name.into(),
                attempt: 0,
            }),
            image: Some(image_spec(&image)),
            command: c.command.clone(),
            envs: vec![KeyValue {
                key: "KUBERNETES_SERVICE_HOST".into(),
                value: "127.0.0.1".into(),
            }],
            mounts: vec![
                mount("etc-hosts", "/etc/hosts"),
                mount("termination-log", "/dev/termination-log"),
                mount("volume", "/tmp/hostpath"),
                mount("volume", "/run/hostpath"),
                Mount {
                    readonly: true,
                    ..mount("token", "/var/run/secrets/kubernetes.io/serviceaccount")
                },
            ],
            labels: HashMap::from([
                ("io.kubernetes.container.name".into(), c.name.into()),
                ("io.kubernetes.pod.name".into(), self.tag.clone()),
                ("io.kubernetes.pod.namespace".into(), "hardened-test".into()),
            ]),
            annotations: HashMap::from([
                ("io.kubernetes.container.restartCount".into(), "0".into()),
                (
                    "io.kubernetes.container.terminationMessagePath".into(),
                    "/dev/termination-log".into(),
                ),
            ]),
            log_path: format!("{}/0.log", c.name),
            linux: Some(LinuxContainerConfig {
                // A BestEffort pod's container, as the kubelet sets it.
                resources: Some(LinuxContainerResources {
                    cpu_period: 100_000,
                    cpu_shares: 2,
                    oom_score_adj: 1000,
                    ..Default::default()
                }),
                security_context: Some(LinuxContainerSecurityContext {
                    capabilities: Some(Capability {
                        add_capabilities: c
                            .add_capabilities
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                        ..Default::default()
                    }),
                    privileged,
                    namespace_options: Some(namespaces(&self.spec)),
                    seccomp: Some(seccomp(&self.spec)),
                    masked_paths: if privileged {
                        vec![]
                    } else {
                        MASKED_PATHS.iter().map(|s| s.to_string()).collect()
                    },
                    readonly_paths: if privileged {
                        vec![]
                    } else {
                        READONLY_PATHS.iter().map(|s| s.to_string()).collect()
                    },
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let req = CreateContainerRequest {
            pod_sandbox_id: self.id().to_string(),
            config: Some(config),
            sandbox_config: Some(self.config.clone()),
        };
        self.cri
            .call("CreateContainer", |mut c| async move {
                c.create_container(req).await
            })
            .map(|r| r.container_id)
    }

    /// The container's CRI log (what `kubectl logs` reads).
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("logs").join(name).join("0.log"))
            .unwrap_or_default()
    }

    /// `StopPodSandbox` and `RemovePodSandbox`, as the kubelet ends a pod; must succeed.
    fn stop_and_remove(&mut self) {
        let id = self.id().to_string();
        self.cri
            .stop_pod(&id)
            .unwrap_or_else(|e| panic!("StopPodSandbox: {e:?}"));
        self.cri
            .remove_pod(&id)
            .unwrap_or_else(|e| panic!("RemovePodSandbox: {e:?}"));
        self.id = None;
        let left = self.cri.pods_tagged(&self.tag).expect("ListPodSandbox");
        assert!(left.is_empty(), "sandboxes left after removal: {left:?}");
    }

    /// The cgroup directories of this pod in every mounted hierarchy (the pod's cgroup parent).
    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        mountinfo
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let fstype = right.split_whitespace().next()?;
                let mountpoint = left.split_whitespace().nth(4)?;
                (fstype == "cgroup" || fstype == "cgroup2").then(|| {
                    PathBuf::from(format!("{mountpoint}{}", cgroup_parent())).join(&self.tag)
                })
            })
            .collect()
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        let mut ids: Vec<String> = self
            .cri
            .pods_tagged(&self.tag)
            .map(|v| v.into_iter().map(|p| p.id).collect())
            .unwrap_or_else(|e| {
                eprintln!("cleanup: ListPodSandbox {}: {e:?}", self.tag);
                vec![]
            });
        if let Some(id) = &self.id {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        for id in ids {
            for c in self.cri.containers_of(&id).unwrap_or_default() {
                let _ = self.cri.stop_container(&c.id, 0);
                if let Err(e) = self.cri.remove_container(&c.id) {
                    eprintln!("cleanup: RemoveContainer {}: {e:?}", c.id);
                }
            }
            if let Err(e) = self.cri.stop_pod(&id) {
                eprintln!("cleanup: StopPodSandbox {id}: {e:?}");
            }
            if let Err(e) = self.cri.remove_pod(&id) {
                eprintln!("cleanup: RemovePodSandbox {id}: {e:?}");
            }
        }
        // The pod's cgroup (the kubelet removes it when the pod is gone).
        for d in self.cgroup_dirs() {
            if d.exists() {
                if let Err(e) = std::fs::remove_dir(&d) {
                    eprintln!("cleanup: rmdir {}: {e}", d.display());
                }
            }
        }
    }
}

fn namespaces(spec: &PodSpec) -> NamespaceOption {
    let mode = |node: bool, otherwise: NamespaceMode| {
        if node {
            NamespaceMode::Node as i32
        } else {
            otherwise as i32
        }
    };
    NamespaceOption {
        network: mode(spec.host_network, NamespaceMode::Pod),
        pid: mode(spec.host_pid, NamespaceMode::Container),
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

fn seccomp(spec: &PodSpec) -> SecurityProfile {
    SecurityProfile {
        profile_type: if spec.runtime_default_seccomp {
            ProfileType::RuntimeDefault as i32
        } else {
            ProfileType::Unconfined as i32
        },
        ..Default::default()
    }
}

/// The fields of a `/proc/<pid>/status`.
fn status_fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Asserts that a `/proc/<pid>/status` shows the hardening: no capabilities at all,
/// `no_new_privs`, a seccomp filter.
fn assert_hardened(what: &str, status: &str) {
    let f = status_fields(status);
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            f.get(cap).map(String::as_str),
            Some("0000000000000000"),
            "{what}: {cap} is not empty:\n{status}"
        );
    }
    assert_eq!(
        f.get("NoNewPrivs").map(String::as_str),
        Some("1"),
        "{what}: NoNewPrivs:\n{status}"
    );
    assert_eq!(
        f.get("Seccomp").map(String::as_str),
        Some("2"),
        "{what}: no seccomp filter:\n{status}"
    );
}

/// Asserts that a CRI error carries the runtime's refusal, with each of `parts`.
fn assert_refusal(call: &str, err: &Status, parts: &[&str]) {
    let msg = err.message();
    assert!(
        msg.contains("refused by the hardened policy"),
        "{call} failed, but not with the hardened policy's refusal: {err:?}"
    );
    for p in parts {
        assert!(
            msg.contains(p),
            "{call}: the refusal does not mention {p:?}: {msg}"
        );
    }
}

/// `hardened state ID` in the handler's state root, parsed; None when the runtime has no such
/// container.
fn runtime_state(id: &str) -> Option<Value> {
    let out = run(Command::new(hardened_bin())
        .arg("--root")
        .arg(test_env("HARDENED_TEST_CRI_RUNTIME_ROOT"))
        .args(["state", id]));
    out.ok()
        .then(|| serde_json::from_str(&out.stdout).expect("state JSON"))
}

/// The audit log's `create` records of container `id`.
fn audit_records(id: &str) -> Vec<Value> {
    let log = std::fs::read_to_string(test_env("HARDENED_TEST_CRI_AUDIT")).unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["id"] == id && r["command"] == "create")
        .collect()
}

/// The whole life of a pod, as the kubelet runs it, with the hardening checked from inside.
fn pod_lifecycle(spec: PodSpec) {
    let cri = Cri::connect();
    cri.require_image(&busybox());
    let mut pod = Pod::new(&cri, spec);
    let pod_id = pod.run().unwrap_or_else(|e| {
        panic!("RunPodSandbox with the hardened handler and the default policy: {e:?}")
    });
    let st = pod.status();
    assert_eq!(st.state, PodSandboxState::SandboxReady as i32, "{st:?}");
    assert_eq!(st.runtime_handler, HANDLER, "{st:?}");
    // The loopback-only network: the pod's address is the loopback one.
    assert_eq!(
        st.network.as_ref().map(|n| n.ip.as_str()),
        Some("127.0.0.1"),
        "{st:?}"
    );

    let cid = pod
        .create_container(&ContainerSpec::sleeper("main"))
        .unwrap_or_else(|e| panic!("CreateContainer: {e:?}"));
    cri.start_container(&cid)
        .unwrap_or_else(|e| panic!("StartContainer: {e:?}"));
    wait_until(
        "the container's log to show \"started\"",
        Duration::from_secs(30),
        || pod.log("main").contains("stdout F started"),
    );
    let cs = cri.container_status(&cid);
    assert_eq!(cs.state, ContainerState::ContainerRunning as i32, "{cs:?}");

    // From inside: an exec'd process and the container's main process.
    let own = cri.exec_ok(&cid, &["cat", "/proc/self/status"]);
    assert_hardened("ExecSync process", &own);
    let main = cri.exec_ok(&cid, &["cat", "/proc/1/status"]);
    assert_hardened("main process", &main);
    // The read-only root, and the scratch tmpfs.
    let out = cri.exec_sync(&cid, &["sh", "-c", "echo x > /hardened-probe"]);
    assert_ne!(out.exit_code, 0, "a write to / succeeded");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cri.exec_ok(&cid, &["sh", "-c", "echo x > /tmp/probe && cat /tmp/probe"])
            .trim(),
        "x"
    );
    // No NET_ADMIN: the pod's own loopback cannot be reconfigured.
    let out = cri.exec_sync(&cid, &["ip", "link", "set", "dev", "lo", "mtu", "65000"]);
    assert_ne!(out.exit_code, 0, "ip link set succeeded without NET_ADMIN");
    // The kubelet's bind mounts reached the container, also those beneath the scratch tmpfs.
    assert!(cri
        .exec_ok(&cid, &["cat", "/etc/hosts"])
        .contains("localhost"));
    assert_eq!(
        cri.exec_ok(
            &cid,
            &[
                "cat",
                "/tmp/hostpath/f",
                "/run/hostpath/f",
                "/var/run/secrets/kubernetes.io/serviceaccount/token",
            ]
        ),
        "hostpath\nhostpath\nsa-token\n"
    );

    // The sandbox's pause process is hardened too, seen from the host.
    let state = runtime_state(&pod_id).expect("the runtime has no state for the sandbox");
    let pause_pid = state["pid"].as_i64().expect("sandbox pid");
    let pause = std::fs::read_to_string(format!("/proc/{pause_pid}/status"))
        .expect("the pause process's status");
    assert_hardened("pause process", &pause);
    for id in [&pod_id, &cid] {
        let records = audit_records(id);
        assert!(
            records.iter().any(|r| r["decision"] == "allowed"),
            "no allowed create of {id} in the audit log: {records:?}"
        );
    }

    cri.stop_container(&cid, 10)
        .unwrap_or_else(|e| panic!("StopContainer: {e:?}"));
    let cs = cri.container_status(&cid);
    assert_eq!(cs.state, ContainerState::ContainerExited as i32, "{cs:?}");
    assert_eq!(
        cs.exit_code, 0,
        "the main process exits 0 on SIGTERM: {cs:?}"
    );
    cri.remove_container(&cid)
        .unwrap_or_else(|e| panic!("RemoveContainer: {e:?}"));
    assert!(runtime_state(&cid).is_none(), "runtime state of {cid} left");
    pod.stop_and_remove();
    assert!(
        runtime_state(&pod_id).is_none(),
        "runtime state of the sandbox left"
    );
}

#[test]
fn pause_sandbox_passes_the_default_policy() {
    let cri = Cri::connect();
    let mut pod = Pod::new(&cri, PodSpec::default());
    let pod_id = pod.run().unwrap_or_else(|e| {
        panic!("the pod sandbox (pause) does not start under the default policy: {e:?}")
    });
    assert_eq!(pod.status().state, PodSandboxState::SandboxReady as i32);
    let records = audit_records(&pod_id);
    assert!(
        records
            .iter()
            .any(|r| r["decision"] == "allowed" && r["refusals"] == Value::Array(vec![])),
        "the sandbox's audit record: {records:?}"
    );
    let state = runtime_state(&pod_id).expect("the runtime has no state for the sandbox");
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_i64().expect("sandbox pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("pause status");
    assert_hardened("pause process", &status);
    // The image's user (65535, as Kubernetes' pause image), unchanged inside its user
    // namespace: on the host, the ID 65535 of the sandbox's range.
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).expect("pause uid_map");
    let host_start: u64 = map
        .split_whitespace()
        .nth(1)
        .and_then(|h| h.parse().ok())
        .expect("uid_map host start");
    assert!(
        host_start >= 65536,
        "the sandbox has no user namespace: {map:?}"
    );
    let host_uid = (host_start + 65535).to_string();
    assert!(
        status_fields(&status)
            .get("Uid")
            .is_some_and(|u| u.split_whitespace().next() == Some(host_uid.as_str())),
        "{status}"
    );
    pod.stop_and_remove();
}

#[test]
fn pod_runs_hardened_seen_from_inside() {
    pod_lifecycle(PodSpec::default());
}

#[test]
fn pod_with_runtime_default_seccomp_runs_hardened() {
    // seccompProfile: RuntimeDefault: containerd sends its own profile, ours is merged in.
    pod_lifecycle(PodSpec {
        runtime_default_seccomp: true,
        ..Default::default()
    });
}

#[test]
fn privileged_pod_is_refused() {
    let cri = Cri::connect();
    let mut pod = Pod::new(
        &cri,
        PodSpec {
            privileged: true,
            ..Default::default()
        },
    );
    // The sandbox of a privileged pod asks for nothing itself (containerd gives its pause
    // process no capabilities), so it runs, hardened.
    pod.run()
        .unwrap_or_else(|e| panic!("RunPodSandbox of a privileged pod: {e:?}"));
    let cid = pod
        .create_container(&ContainerSpec {
            privileged: true,
            ..ContainerSpec::sleeper("priv")
        })
        .unwrap_or_else(|e| panic!("CreateContainer: {e:?}"));
    let err = cri
        .start_container(&cid)
        .expect_err("a privileged container started");
    assert_refusal("StartContainer", &err, &[]);
    // containerd grants a privileged container every capability *it* holds: where its bounding
    // set lacks one (CAP_SYS_RESOURCE on the test machines), the config is not "every
    // capability", and the refusal lists the capabilities and host devices instead of naming
    // privileged mode.
    let msg = err.message();
    assert!(
        msg.contains("[rule privileged]")
            || (msg.contains("CAP_SYS_ADMIN") && msg.contains("[rule devices]")),
        "{msg}"
    );
    let cs = cri.container_status(&cid);
    assert_ne!(cs.state, ContainerState::ContainerRunning as i32, "{cs:?}");
    assert!(runtime_state(&cid).is_none(), "runtime state of {cid} left");
}

#[test]
fn host_pid_pod_is_refused() {
    let cri = Cri::connect();
    let mut pod = Pod::new(
        &cri,
        PodSpec {
            host_pid: true,
            ..Default::default()
        },
    );
    let err = pod.run().expect_err("a hostPID pod started");
    assert_refusal(
        "RunPodSandbox",
        &err,
        &[
            "the host's pid namespace",
            "[rule host-namespaces]",
            "allow_host_namespaces = [\"pid\"]",
        ],
    );
    assert!(cri.pods_tagged(&pod.tag).expect("list").is_empty());
}

#[test]
fn host_network_pod_is_refused() {
    let cri = Cri::connect();
    let mut pod = Pod::new(
        &cri,
        PodSpec {
            host_network: true,
            ..Default::default()
        },
    );
    let err = pod.run().expect_err("a hostNetwork pod started");
    assert_refusal(
        "RunPodSandbox",
        &err,
        &[
            "the host's network namespace",
            "[rule host-namespaces]",
            "allow_host_namespaces = [\"network\"]",
        ],
    );
    assert!(cri.pods_tagged(&pod.tag).expect("list").is_empty());
}

#[test]
fn added_sys_admin_capability_is_refused() {
    let cri = Cri::connect();
    let mut pod = Pod::new(&cri, PodSpec::default());
    pod.run().unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}"));
    let cid = pod
        .create_container(&ContainerSpec {
            add_capabilities: vec!["SYS_ADMIN"],
            ..ContainerSpec::sleeper("sysadmin")
        })
        .unwrap_or_else(|e| panic!("CreateContainer: {e:?}"));
    let err = cri
        .start_container(&cid)
        .expect_err("a container with SYS_ADMIN started");
    assert_refusal(
        "StartContainer",
        &err,
        &[
            "CAP_SYS_ADMIN",
            "[rule capabilities]",
            "allow_capabilities = [\"SYS_ADMIN\"]",
        ],
    );
    // What `kubectl describe pod` shows: the container's status carries the refusal.
    let cs = cri.container_status(&cid);
    assert_ne!(cs.state, ContainerState::ContainerRunning as i32, "{cs:?}");
    assert!(
        cs.message.contains("refused by the hardened policy"),
        "container status message: {cs:?}"
    );
    // The pod itself is unharmed.
    assert_eq!(pod.status().state, PodSandboxState::SandboxReady as i32);
    assert!(runtime_state(&cid).is_none(), "runtime state of {cid} left");
}

#[test]
fn profile_annotation_selects_the_operator_profile() {
    let cri = Cri::connect();
    let mut pod = Pod::new(
        &cri,
        PodSpec {
            annotations: vec![("io.hardened.profile", "netadmin")],
            ..Default::default()
        },
    );
    let pod_id = pod
        .run()
        .unwrap_or_else(|e| panic!("RunPodSandbox with profile netadmin: {e:?}"));
    let cid = pod
        .create_container(&ContainerSpec {
            add_capabilities: vec!["NET_ADMIN"],
            ..ContainerSpec::sleeper("netadmin")
        })
        .unwrap_or_else(|e| panic!("CreateContainer: {e:?}"));
    cri.start_container(&cid)
        .unwrap_or_else(|e| panic!("StartContainer with NET_ADMIN under profile netadmin: {e:?}"));
    // Exactly NET_ADMIN (bit 12), in every set the config asked for; nothing more.
    let status = status_fields(&cri.exec_ok(&cid, &["cat", "/proc/self/status"]));
    for cap in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(
            status.get(cap).map(String::as_str),
            Some("0000000000001000"),
            "{cap}: {status:?}"
        );
    }
    assert_eq!(
        status.get("CapAmb").map(String::as_str),
        Some("0000000000000000")
    );
    assert_eq!(status.get("NoNewPrivs").map(String::as_str), Some("1"));
    assert_eq!(status.get("Seccomp").map(String::as_str), Some("2"));
    cri.exec_ok(&cid, &["ip", "link", "set", "dev", "lo", "mtu", "65000"]);
    for id in [&pod_id, &cid] {
        let records = audit_records(id);
        assert!(
            records
                .iter()
                .any(|r| r["decision"] == "allowed" && r["profile"] == "netadmin"),
            "no allowed create of {id} with profile netadmin in the audit log: {records:?}"
        );
    }
    // The profile allows NET_ADMIN, not more.
    let other = pod
        .create_container(&ContainerSpec {
            add_capabilities: vec!["SYS_ADMIN"],
            ..ContainerSpec::sleeper("sysadmin")
        })
        .unwrap_or_else(|e| panic!("CreateContainer: {e:?}"));
    let err = cri
        .start_container(&other)
        .expect_err("SYS_ADMIN started under profile netadmin");
    assert_refusal(
        "StartContainer",
        &err,
        &["CAP_SYS_ADMIN", "[profiles.netadmin]"],
    );
}

#[test]
fn unknown_profile_is_refused() {
    let cri = Cri::connect();
    let mut pod = Pod::new(
        &cri,
        PodSpec {
            annotations: vec![("io.hardened.profile", "no-such-profile")],
            ..Default::default()
        },
    );
    let err = pod
        .run()
        .expect_err("a pod naming an unknown profile started");
    assert_refusal(
        "RunPodSandbox",
        &err,
        &[
            "io.hardened.profile=no-such-profile",
            "does not define",
            "[rule profile]",
        ],
    );
    assert!(cri.pods_tagged(&pod.tag).expect("list").is_empty());
}

#[test]
fn pod_runs_in_user_namespace() {
    let cri = Cri::connect();
    let mut pod = Pod::new(&cri, PodSpec::default());
    pod.run().unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}"));
    let cid = pod
        .create_container(&ContainerSpec::sleeper("main"))
        .unwrap_or_else(|e| panic!("CreateContainer: {e:?}"));
    cri.start_container(&cid)
        .unwrap_or_else(|e| panic!("StartContainer: {e:?}"));
    let map = cri.exec_ok(&cid, &["cat", "/proc/self/uid_map"]);
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_ne!(
        fields,
        ["0", "0", "4294967295"],
        "the container runs in the host's user namespace: {map:?}"
    );
    // Root inside is an unprivileged ID outside.
    assert_eq!(fields.first(), Some(&"0"), "{map:?}");
    assert_ne!(fields.get(1), Some(&"0"), "{map:?}");
    // The pod is one user namespace: the container joined the sandbox's (it shares its ipc
    // and uts namespaces, which only their owner may enter), and the exec'd process is in it.
    let ns = cri.exec_ok(
        &cid,
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/user; readlink /proc/1/ns/user",
        ],
    );
    let links: Vec<&str> = ns.lines().collect();
    assert_eq!(links.len(), 2, "{ns:?}");
    assert_eq!(
        links[0], links[1],
        "exec'd process and container init: {ns:?}"
    );
    assert_ne!(
        links[0],
        std::fs::read_link("/proc/self/ns/user")
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        "{ns:?}"
    );
}
