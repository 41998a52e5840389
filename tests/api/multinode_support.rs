//! Several `verity serve` processes (the binary cargo built) on one Postgres behind Debian's
//! nginx, run unprivileged from a temporary directory on free ports. Nodes share the
//! repository's config.yml (so the same secrets) and get the rest from Kratos-style
//! environment variables: the database, their ports, the balancer's URL as
//! `serve.public.base_url`, the SMTP sink.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::TempDir;

const NGINX: &str = "/usr/sbin/nginx";

/// nginx, or a loud skip (a failure under CI).
pub fn nginx_available() -> bool {
    if std::path::Path::new(NGINX).exists() {
        return true;
    }
    if std::env::var("CI").is_ok() {
        panic!("CI is set but {NGINX} is missing: the multi-node tests must run in CI");
    }
    eprintln!(
        "\n*** SKIPPED: {NGINX} is missing (apt-get install nginx), so this multi-node test did not run ***\n"
    );
    false
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Node {
    pub public_port: u16,
    pub admin_port: u16,
    envs: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    pub fn public(&self) -> String {
        format!("http://127.0.0.1:{}", self.public_port)
    }
    pub fn admin(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    fn spawn(&mut self) {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_verity"))
            .args(["serve", "--dev", "--config", config])
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start verity serve");
        self.child = Some(child);
    }

    /// Waits until `/health/ready` answers 200 (the database answers too).
    pub async fn wait_ready(&self, within: Duration) -> Duration {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            let ready = http
                .get(format!("{}/health/ready", self.admin()))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "node {} not ready within {within:?}; its log:\n{}",
                self.public_port,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown at all.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the graceful exit (in-flight requests and sends finish). It
    /// waits asynchronously: the SMTP sink those sends go to runs on this test's runtime.
    pub async fn terminate(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        started.elapsed()
    }

    pub async fn restart(&mut self) {
        self.spawn();
        self.wait_ready(Duration::from_secs(60)).await;
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Nginx {
    pub port: u16,
    child: Child,
}

impl Nginx {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub nginx: Nginx,
    _dir: TempDir,
}

/// What every node of a cluster is given.
pub struct ClusterSpec<'a> {
    pub nodes: usize,
    /// The Postgres DSN (with its search_path).
    pub dsn: String,
    pub smtp_uri: Option<String>,
    /// More environment variables (Kratos-style keys), the same for every node.
    pub extra: &'a [(&'a str, &'a str)],
}

impl Cluster {
    pub async fn start(spec: ClusterSpec<'_>) -> Cluster {
        let dir = TempDir::new();
        let balancer = free_port();
        let mut nodes = Vec::new();
        for i in 0..spec.nodes {
            let (public_port, admin_port) = (free_port(), free_port());
            let mut envs: Vec<(String, String)> = [
                ("DSN", spec.dsn.clone()),
                ("SERVE_PUBLIC_PORT", public_port.to_string()),
                ("SERVE_ADMIN_PORT", admin_port.to_string()),
                (
                    "SERVE_PUBLIC_BASE_URL",
                    format!("http://127.0.0.1:{balancer}/"),
                ),
                (
                    "SERVE_ADMIN_BASE_URL",
                    format!("http://127.0.0.1:{admin_port}/"),
                ),
                ("HASHERS_ARGON2_MEMORY", "64KiB".into()),
                ("HASHERS_ARGON2_ITERATIONS", "1".into()),
                ("VERITY_LOG", "info".into()),
                ("SERVE_DRAIN", "1s".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            if let Some(uri) = &spec.smtp_uri {
                envs.push(("COURIER_SMTP_CONNECTION_URI".into(), uri.clone()));
            }
            envs.extend(
                spec.extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            let mut node = Node {
                public_port,
                admin_port,
                envs,
                log: dir.0.join(format!("node{i}.log")),
                child: None,
            };
            node.spawn();
            nodes.push(node);
        }
        for n in &nodes {
            n.wait_ready(Duration::from_secs(60)).await;
        }
        let ports: Vec<u16> = nodes.iter().map(|n| n.public_port).collect();
        let nginx = start_nginx(&dir, balancer, &ports);
        wait_http(&format!("{}/health/alive", nginx.url())).await;
        Cluster {
            nodes,
            nginx,
            _dir: dir,
        }
    }

    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("--- node {i}\n{}", n.log_text()))
            .collect()
    }
}

/// Round robin over the nodes. A refused connection, a timeout, a 502 or a draining node's 503
/// sends the request to the next node (a POST only when nothing reached the first); five such
/// failures take the node out for 2 s. One failure would do for a draining node, but on a
/// loaded machine a node's occasional 503 (the database is slow) would then take nodes out
/// until none is left and nginx answers 502 itself.
fn start_nginx(dir: &TempDir, port: u16, upstreams: &[u16]) -> Nginx {
    let root = dir.0.join("nginx");
    std::fs::create_dir_all(root.join("logs")).unwrap();
    let servers: String = upstreams
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=5 fail_timeout=2s;\n"))
        .collect();
    let conf = format!(
        "worker_processes 1;\ndaemon off;\npid {root}/nginx.pid;\nerror_log {root}/logs/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n\
           fastcgi_temp_path {root}/fastcgi;\n  uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n\
           upstream verity {{\n{servers}  }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://verity;\n\
               proxy_set_header Host $http_host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_connect_timeout 2s;\n      proxy_read_timeout 30s;\n\
               proxy_next_upstream error timeout http_502 http_503;\n      proxy_next_upstream_tries 3;\n    }}\n  }}\n}}\n",
        root = root.display()
    );
    let path = root.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    // As root, nginx's workers switch to an unprivileged user: let them use the directory.
    let _ = Command::new("chmod")
        .args(["-R", "a+rwX", root.to_str().unwrap()])
        .status();
    let child = Command::new(NGINX)
        .args([
            "-p",
            root.to_str().unwrap(),
            "-c",
            path.to_str().unwrap(),
            "-e",
        ])
        .arg(root.join("logs/error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    Nginx { port, child }
}

async fn wait_http(url: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not answer");
}

/// Queues `n` verification emails (to `<tag><i>@example.com`) straight into the shared
/// database, sealed with the keys every node derives from config.yml's secrets.
pub async fn queue_emails(dsn: &str, n: usize, tag: &str) {
    let settings = crate::helpers::base_settings(dsn);
    let courier = verity::courier::Courier::from_settings(&settings, true).unwrap();
    let store = verity::persistence::Store::connect_lazy(dsn).unwrap();
    let now = chrono::Utc::now();
    let messages: Vec<_> = (0..n)
        .map(|i| {
            courier
                .compose(
                    verity::courier::Channel::Email,
                    &format!("{tag}{i}@example.com"),
                    verity::courier::TemplateKind::VerificationCodeValid,
                    &crate::courier::code_data("123456"),
                    Some(now + chrono::Duration::minutes(10)),
                    now,
                )
                .unwrap()
        })
        .collect();
    for chunk in messages.chunks(250) {
        store.enqueue_messages(chunk).await.unwrap();
    }
    store.close().await;
}
