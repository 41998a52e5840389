//! Builds the registry of shared components and the two HTTP servers. `main` and the tests
//! start the server the same way, the tests on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;
use url::Url;

use crate::config::{ConfigSource, EndpointConfig, Settings};
use crate::courier::{Courier, Worker};
use crate::crypto::Keyring;
use crate::flow::core::hooks::FlowHooks;
use crate::flow::core::{DepsParts, FlowDeps};
use crate::flow::login::LoginService;
use crate::flow::registration::RegistrationService;
use crate::flow::settings::SettingsService;
use crate::flow::verification::VerificationService;
use crate::hash::PasswordHasher;
use crate::http;
use crate::http::protect::Port;
use crate::http::slow_clients::ConnectionCounter;
use crate::identity::IdentityService;
use crate::persistence::Store;
use crate::ratelimit::RateLimiter;
use crate::schema::SchemaRegistry;

/// The app state under its earlier name.
pub use crate::http::{AppState as Registry, Urls};

pub struct Application {
    public_port: u16,
    admin_port: u16,
    public: Server,
    admin: Server,
    registry: Arc<Registry>,
    /// The storage behind the services, for the courier worker, shutdown and the CLI.
    store: Store,
}

fn base_url(endpoint: &EndpointConfig, port: u16) -> anyhow::Result<Url> {
    let raw = match &endpoint.base_url {
        Some(u) => u.clone(),
        None => format!(
            "http://{}:{port}/",
            if endpoint.host == "0.0.0.0" {
                "127.0.0.1"
            } else {
                &endpoint.host
            }
        ),
    };
    let mut url = Url::parse(&raw).with_context(|| format!("invalid base_url {raw:?}"))?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl Application {
    /// Connects storage, applies migrations (when `migrate`), loads schemas and binds both ports.
    pub async fn build(
        settings: Settings,
        source: &ConfigSource,
        dev: bool,
        migrate: bool,
    ) -> anyhow::Result<Self> {
        settings.check_secrets(dev).map_err(anyhow::Error::msg)?;
        match settings.selfservice.methods.code.config.check_strength() {
            Ok(None) => {}
            Ok(Some(warning)) => tracing::warn!("{warning}"),
            Err(e) => anyhow::bail!(e),
        }
        let store = Store::connect_lazy(settings.dsn().expose())?;
        if migrate {
            store
                .migrate()
                .await
                .context("applying database migrations failed")?;
        }
        let sources: Vec<(String, String)> = settings
            .identity
            .schemas
            .iter()
            .map(|s| (s.id.clone(), s.url.clone()))
            .collect();
        let schemas = SchemaRegistry::load(
            &sources,
            &settings.identity.default_schema_id,
            source.base_dir(),
        )
        .context("loading identity schemas failed")?;
        let hasher = PasswordHasher::from_config(&settings.hashers)
            .context("invalid hashers.argon2 settings")?;
        let identities = IdentityService::new(store.clone(), Arc::new(schemas), hasher.clone());
        if settings.signing_secrets().is_empty() {
            tracing::warn!(
                "no secrets.default or secrets.cookie configured: a random secret is used and codes, cookies and page tokens die with this process"
            );
        }
        let keyring = Keyring::new(
            &settings
                .signing_secrets()
                .iter()
                .map(|s| s.expose().to_owned())
                .collect::<Vec<_>>(),
        );
        crate::audit::install_key(&keyring);
        let courier = Courier::from_settings_at(&settings, dev, source.base_dir())
            .context("loading the courier (templates, SMTP, channels) failed")?;
        let ui = crate::http::ui::Ui::load(&settings.ui).map_err(|e| {
            anyhow::anyhow!("loading the UI pages (ui.templates_dir, ui.locale) failed: {e}")
        })?;
        let public_listener = bind(&settings.serve.public, 4433)?;
        let admin_listener = bind(&settings.serve.admin, 4434)?;
        let public_port = public_listener.local_addr()?.port();
        let admin_port = admin_listener.local_addr()?.port();
        let urls = Urls {
            public: base_url(&settings.serve.public, public_port)?,
            admin: base_url(&settings.serve.admin, admin_port)?,
        };
        courier.log_start(&urls.admin);
        http::base_url::warn_at_start(settings.serve.public.base_url.as_deref(), &urls.public, dev);
        let public_limit = settings.serve.public.request_body_limit;
        let admin_limit = settings.serve.admin.request_body_limit;
        let trusted_proxies =
            crate::http::client_ip::parse_trusted(&settings.serve.public.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("serve.public.trusted_proxies: {e}"))?;
        let settings = Arc::new(settings);
        let limiter = RateLimiter::new(
            store.clone(),
            keyring.clone(),
            settings.effective_rate_limits(),
        );
        let sms_policy =
            crate::delivery::sms_policy::SmsPolicy::new(&settings.protection.sms, limiter.clone())
                .map_err(anyhow::Error::msg)?;
        // An origin CORS allows may also send state-changing requests past the cross-site guard.
        let mut cors_origins = crate::http::cors::Cors::guard_origins(&settings.serve.public.cors);
        cors_origins.extend(crate::http::cors::Cors::guard_origins(
            &settings.serve.admin.cors,
        ));
        let guards = crate::http::protect::Guards::new(&settings, &urls, &cors_origins)
            .map_err(anyhow::Error::msg)?;
        let phone = crate::phone::PhoneService::new(
            store.clone(),
            courier.clone(),
            keyring.clone(),
            limiter.clone(),
            sms_policy.clone(),
            settings.phone_verification.clone(),
        );
        let sessions =
            crate::session::SessionService::new(store.clone(), settings.clone(), keyring.clone());
        let oidc = crate::oidc::Providers::from_settings_at(
            &settings,
            crate::oidc::http_client(),
            source.base_dir(),
        )
        .context("invalid selfservice.methods.oidc settings")?;
        let hooks = FlowHooks::from_config(&settings.selfservice.flows, source.base_dir())?;
        let flows = FlowDeps::new(DepsParts {
            store: store.clone(),
            settings: settings.clone(),
            public: urls.public.clone(),
            keyring: keyring.clone(),
            courier: courier.clone(),
            limiter: limiter.clone(),
            sessions: sessions.clone(),
            identities: identities.clone(),
            hasher,
            oidc,
            hooks,
            sms_policy: sms_policy.clone(),
        });
        let registry = Arc::new(Registry {
            verification: VerificationService::new(flows.clone()),
            registration: RegistrationService::new(flows.clone()),
            login: LoginService::new(flows.clone()),
            settings_flow: SettingsService::new(flows.clone()),
            recovery: crate::flow::recovery::RecoveryService::new(flows.clone()),
            flows,
            errors: crate::flow::errors::ErrorReports::new(store.clone()),
            sessions,
            settings,
            phone,
            limiter,
            trusted_proxies,
            database: crate::service::Database::new(store.clone()),
            outbox: crate::courier::Outbox::new(store.clone()),
            identities,
            keyring,
            courier,
            urls,
            dev,
            ui,
            sms_policy,
            guards,
            draining: Default::default(),
        });
        crate::metrics::install();
        let public = serve(
            public_listener,
            registry.clone(),
            public_limit,
            ("public", http::public),
        )?;
        let admin = serve(
            admin_listener,
            registry.clone(),
            admin_limit,
            ("admin", http::admin),
        )?;
        Ok(Self {
            public_port,
            admin_port,
            public,
            admin,
            registry,
            store,
        })
    }

    pub fn public_port(&self) -> u16 {
        self.public_port
    }
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs both servers until one stops or `shutdown` resolves; in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        // The courier worker (Kratos's --watch-courier) runs beside the servers unless
        // courier.worker.enabled is false; on shutdown it finishes the sends in flight.
        let (stop_courier, stopped) = tokio::sync::watch::channel(false);
        let courier = self.registry.settings.courier.worker.enabled.then(|| {
            let worker = Worker::new(self.registry.courier.clone(), self.store.clone());
            tokio::spawn(worker.run(stopped))
        });
        let fallback = self
            .registry
            .settings
            .phone_verification
            .voice_fallback
            .enabled
            .then(|| {
                tokio::spawn(
                    self.registry
                        .phone
                        .clone()
                        .run_fallbacks(stop_courier.subscribe()),
                )
            });
        let cleanup = self.registry.settings.database.cleanup.every.map(|every| {
            tokio::spawn(crate::cleanup::schedule(
                self.store.clone(),
                crate::cleanup::Plan::from_settings(&self.registry.settings),
                every.std().max(std::time::Duration::from_secs(1)),
                stop_courier.subscribe(),
            ))
        });
        // A `Server` future runs the server's own command loop, so it must be polled until the
        // stop completes; dropping it instead stops at once and cuts the requests in flight.
        let (mut public, mut admin) = (self.public, self.admin);
        let (p, a) = (public.handle(), admin.handle());
        tokio::select! {
            r = &mut public => { let _ = tokio::join!(a.stop(true), &mut admin); r? }
            r = &mut admin => { let _ = tokio::join!(p.stop(true), &mut public); r? }
            () = shutdown => {
                tracing::info!("shutting down: finishing the requests and sends in flight");
                // New requests get 503 for serve.drain, so a balancer moves away before the
                // listeners close; /health/ready says so too.
                self.registry.draining.store(true, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(self.registry.settings.serve.drain.std()).await;
                let _ = tokio::join!(p.stop(true), a.stop(true), &mut public, &mut admin);
            }
        }
        let _ = stop_courier.send(true);
        if let Some(task) = courier {
            let _ = task.await;
        }
        if let Some(task) = fallback {
            let _ = task.await;
        }
        if let Some(task) = cleanup {
            let _ = task.await;
        }
        self.store.close().await;
        Ok(())
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(std::future::pending()).await
    }
}

fn bind(endpoint: &EndpointConfig, default_port: u16) -> anyhow::Result<TcpListener> {
    let port = endpoint.port.unwrap_or(default_port);
    TcpListener::bind((endpoint.host.as_str(), port))
        .with_context(|| format!("cannot listen on {}:{port}", endpoint.host))
}

fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    body_limit: usize,
    (api, routes): (&'static str, fn(&mut web::ServiceConfig)),
) -> anyhow::Result<Server> {
    let clients = registry.settings.protection.clients.clone();
    let connections = ConnectionCounter::new(
        clients.max_connections_per_ip,
        registry.trusted_proxies.clone(),
    );
    let data = web::Data::from(registry);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let port = match api {
        "admin" => http::openapi::Api::Admin,
        _ => http::openapi::Api::Public,
    };
    let guard_port = match api {
        "admin" => Port::Admin,
        _ => Port::Public,
    };
    let endpoint = match api {
        "admin" => &data.settings.serve.admin,
        _ => &data.settings.serve.public,
    };
    let cors = Arc::new(http::cors::Cors::new(&endpoint.cors));
    let server = HttpServer::new(move || {
        let (json, query, path, payload) = http::extractor_config(body_limit);
        let cors = cors.clone();
        App::new()
            .wrap(from_fn(move |req, next| {
                http::protect::guard(guard_port, body_limit, req, next)
            }))
            .app_data(port)
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                http::metrics::track(api, req, next)
            }))
            .wrap(actix_web::middleware::from_fn(
                http::drain::refuse_while_draining,
            ))
            .wrap(from_fn(move |req, next| {
                http::cors::cors(cors.clone(), req, next)
            }))
            .wrap(TracingLogger::<http::RedactedRootSpan>::new())
            .wrap(from_fn(http::clean_path::clean_path))
            .wrap(from_fn(http::wake_after::wake_after_response))
            .app_data(data.clone())
            .app_data(json)
            .app_data(query)
            .app_data(path)
            .app_data(payload)
            .configure(routes)
            .default_service(web::to(http::not_found))
    })
    .workers(workers)
    .client_request_timeout(clients.header_timeout.std())
    .on_connect(move |conn, ext| connections.on_connect(conn, ext))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
