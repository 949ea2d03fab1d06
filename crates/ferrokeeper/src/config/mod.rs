//! The configuration layer: from `zkServer.sh`-style invocation to a validated [`LoadedConfig`].
//!
//! Pipeline (each step in its own module so it can be tested alone):
//! 1. [`locate`]: `--config`/`ZOOCFGDIR`/`ZOOCFG`/positional argument → config path, and the
//!    variables of `zookeeper-env.sh`/`java.env`;
//! 2. [`system_properties`]: `SERVER_JVMFLAGS` + `JVMFLAGS` → `-D` properties;
//! 3. [`properties`]: zoo.cfg text → key/value/line table (`java.util.Properties` rules);
//! 4. [`zoo_cfg`] + [`quorum`]: typed keys, membership, Java's validity rules;
//! 5. [`myid`]: `dataDir/myid` and the standalone/distributed decision.

pub mod error;
pub mod locate;
pub mod myid;
pub mod properties;
pub mod quorum;
pub mod system_properties;
pub mod zoo_cfg;

#[cfg(test)]
pub(crate) mod test_util;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigWarning, Location};
pub use locate::{LocateRequest, Located};
pub use myid::ServerMode;
pub use quorum::{HostPort, LearnerType, QuorumConfig, QuorumServer};
pub use system_properties::{ShellEnv, SystemProperties};
pub use zoo_cfg::{ServerSettings, ZooCfg};

use properties::Properties;
use system_properties::PropertyOrigin;

/// How to find and load the configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Config directory/file selection (CLI arguments).
    pub locate: LocateRequest,
    /// Environment to start from; `None` uses the process environment.
    pub env: Option<ShellEnv>,
}

/// A fully validated configuration, ready for the server to start from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// Where things were found (config dir/file, env after sourcing env files).
    pub located: Located,
    /// The typed configuration.
    pub zoo_cfg: ZooCfg,
    /// Standalone or distributed (same rule as Java's `isDistributed`).
    pub mode: ServerMode,
    /// The JVM flag string the Java launcher would have used (for `print-cmd` and logs).
    pub jvm_flags: String,
    /// JVM-only flags we accept and ignore (`-Xmx…`, `-XX:…`).
    pub ignored_jvm_flags: Vec<String>,
    /// Non-fatal findings for the caller to log.
    pub warnings: Vec<ConfigWarning>,
}

impl LoadedConfig {
    /// Path of the static config file (what `Using config:` prints).
    pub fn config_path(&self) -> &Path {
        &self.located.config_file
    }

    /// A one-line human summary for the startup log.
    pub fn summary(&self) -> String {
        let c = &self.zoo_cfg;
        let client = c
            .client_port_address
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "none".into());
        let role = match self.mode {
            ServerMode::Standalone => "standalone".to_string(),
            ServerMode::Distributed => format!(
                "distributed sid={} {} ({} voters, {} observers)",
                c.server_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "?".into()),
                c.peer_type,
                c.quorum.voting_members().count(),
                c.quorum.observers().count()
            ),
        };
        format!(
            "config {}: {role}, clientPort {client}, dataDir {}, dataLogDir {}, tickTime {} ms, sessions {}..{} ms",
            self.located.config_file.display(),
            c.data_dir.display(),
            c.data_log_dir.display(),
            c.tick_time,
            c.min_session_timeout,
            c.max_session_timeout
        )
    }
}

/// Locates, reads and validates the configuration like `zkServer.sh start-foreground`.
pub fn load_config(opts: LoadOptions) -> Result<LoadedConfig, ConfigError> {
    let env = opts.env.unwrap_or_else(ShellEnv::from_process_env);
    let located = locate::locate(&opts.locate, env);
    load_located(located)
}

/// Loads the configuration from an already located config file.
pub fn load_located(located: Located) -> Result<LoadedConfig, ConfigError> {
    let mut warnings: Vec<ConfigWarning> = located
        .env
        .notes
        .iter()
        .map(|n| ConfigWarning::general(n.clone()))
        .collect();
    let flags = system_properties::effective_server_jvm_flags(&located.env);
    let mut jvm = SystemProperties::new();
    if located
        .env
        .non_empty("ZOO_DATADIR_AUTOCREATE_DISABLE")
        .is_some()
    {
        jvm.set(
            "zookeeper.datadir.autocreate",
            "false",
            PropertyOrigin::Launcher,
        );
    }
    jvm.add_jvm_flags(&flags);
    let ignored_jvm_flags = jvm.ignored_flags.clone();

    let path = located.config_file.clone();
    let label = path.to_string_lossy().into_owned();
    let bytes = read_file(&path)?;
    let props = parse_props(&label, &bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let cfg = zoo_cfg::parse_static(&label, &text, &props, &jvm, &mut warnings)?;

    let mut dynamic = None;
    let mut dynamic_next = None;
    if let Some(dyn_path) = &cfg.dynamic_config_file {
        let dyn_label = dyn_path.to_string_lossy().into_owned();
        let dyn_bytes = read_file(dyn_path)?;
        dynamic = Some((dyn_label.clone(), parse_props(&dyn_label, &dyn_bytes)?));
        let next = PathBuf::from(format!("{label}.dynamic.next"));
        if next.is_file() {
            let next_label = next.to_string_lossy().into_owned();
            match std::fs::read(&next) {
                Ok(b) => match parse_props(&next_label, &b) {
                    Ok(p) => dynamic_next = Some((next_label, p)),
                    Err(e) => warnings.push(ConfigWarning::general(format!("ignoring {e}"))),
                },
                Err(e) => warnings.push(ConfigWarning::general(format!(
                    "{next_label}: cannot read: {e}"
                ))),
            }
        }
    }
    let myid = myid::read_myid(&cfg.data_dir)?;
    let cfg = zoo_cfg::finish_zoo_cfg(cfg, dynamic, dynamic_next, myid, &mut warnings)?;
    let mode = cfg.mode();
    Ok(LoadedConfig {
        located,
        zoo_cfg: cfg,
        mode,
        jvm_flags: flags,
        ignored_jvm_flags,
        warnings,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    if !path.exists() {
        return Err(ConfigError::NotFound {
            path: path.to_path_buf(),
        });
    }
    std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_props(label: &str, bytes: &[u8]) -> Result<Properties, ConfigError> {
    Properties::parse_bytes(bytes).map_err(|e| ConfigError::Syntax {
        location: Location::line(label, e.line),
        message: e.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use test_util::TempDir;

    fn options(conf: &Path, cfg_arg: Option<&str>, env: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            locate: LocateRequest {
                config_dir: Some(conf.to_path_buf()),
                config_arg: cfg_arg.map(str::to_string),
                bin_dir: Some(PathBuf::from("/nonexistent/bin")),
            },
            env: Some(ShellEnv::new(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            )),
        }
    }

    #[test]
    fn shipped_dev_default_is_valid() {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf/zoo.cfg"));
        let mut w = Vec::new();
        let cfg = zoo_cfg::parse_zoo_cfg("conf/zoo.cfg", text, Default::default(), &mut w)
            .expect("conf/zoo.cfg must parse");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(cfg.tick_time, 2000);
        assert_eq!(cfg.client_port_address, Some(HostPort::any(2181)));
        assert!(!cfg.settings.admin.enable_server);
        assert!(cfg.settings.four_letter_words.allows("ruok"));
        assert!(cfg.settings.four_letter_words.allows("stat"));
        assert!(!cfg.settings.four_letter_words.allows("dump"));
        assert_eq!(cfg.mode(), ServerMode::Standalone);
    }

    #[test]
    fn end_to_end_ensemble_with_env_files_and_dynamic_config() {
        let t = TempDir::new("load-e2e");
        let conf = t.path().join("conf");
        let data = t.path().join("data");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), "2\n").unwrap();
        let dyn_file = conf.join("zoo.cfg.dynamic.100000000");
        std::fs::write(
            &dyn_file,
            "server.1=zk-0:2888:3888:participant;0.0.0.0:2181\n\
             server.2=zk-1:2888:3888:participant;0.0.0.0:2181\n\
             server.3=zk-2:2888:3888:participant;0.0.0.0:2181\n",
        )
        .unwrap();
        let cfg_path = conf.join("zoo.cfg");
        std::fs::write(
            &cfg_path,
            format!(
                "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nreconfigEnabled=true\n\
                 dynamicConfigFile={}\nsnapCount=1000\nmystery=1\n",
                data.display(),
                dyn_file.display()
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("zoo.cfg.dynamic.next"),
            "server.1=zk-0:2888:3888:participant;2181\nversion=200000000\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("java.env"),
            "export JVMFLAGS=\"-Xmx1g -Dzookeeper.snapCount=5 -Djute.maxbuffer=2000000 $JVMFLAGS\"\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("zookeeper-env.sh"),
            "SERVER_JVMFLAGS='-Dzookeeper.skipACL=yes -XX:+UseG1GC'\n",
        )
        .unwrap();
        let loaded = load_config(options(
            &conf,
            None,
            &[("JVMFLAGS", "-Dreadonlymode.enabled=true")],
        ))
        .unwrap();
        let c = &loaded.zoo_cfg;
        assert_eq!(loaded.config_path(), cfg_path.as_path());
        assert_eq!(loaded.mode, ServerMode::Distributed);
        assert_eq!(c.server_id, Some(2));
        assert_eq!(c.quorum.version, 0x1_0000_0000);
        assert_eq!(c.client_port_address, Some(HostPort::new("0.0.0.0", 2181)));
        assert_eq!(
            c.last_seen_quorum.as_ref().map(|q| q.version),
            Some(0x2_0000_0000)
        );
        // zoo.cfg wins over -D, -D from env files and the environment are all seen
        assert_eq!(c.settings.snap_count, 1000);
        assert!(c.settings.skip_acl);
        assert!(c.settings.readonly_mode_enabled);
        assert_eq!(c.settings.jute_max_buffer, 2_000_000);
        assert_eq!(loaded.ignored_jvm_flags, vec!["-XX:+UseG1GC", "-Xmx1g"]);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0]
            .message
            .contains("overrides -Dzookeeper.snapCount=5"));
        assert_eq!(loaded.warnings[1].key.as_deref(), Some("mystery"));
        assert_eq!(
            loaded.warnings[1].location.as_ref().and_then(|l| l.line),
            Some(8)
        );
        assert!(loaded
            .summary()
            .contains("distributed sid=2 participant (3 voters, 0 observers)"));
    }

    #[test]
    fn missing_file_and_bad_myid() {
        let t = TempDir::new("load-errors");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let e = load_config(options(&conf, None, &[])).unwrap_err();
        assert!(matches!(e, ConfigError::NotFound { .. }));
        let data = t.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), " 1\n").unwrap();
        std::fs::write(
            conf.join("other.cfg"),
            format!("dataDir={}\n", data.display()),
        )
        .unwrap();
        let e = load_config(options(&conf, Some("other.cfg"), &[])).unwrap_err();
        assert!(
            e.to_string().ends_with("serverid  1 is not a number"),
            "{e}"
        );
    }

    #[test]
    fn autocreate_disable_sets_property() {
        let t = TempDir::new("load-autocreate");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("zoo.cfg"), "dataDir=/nonexistent-ferrokeeper\n").unwrap();
        let l = load_config(options(
            &conf,
            None,
            &[("ZOO_DATADIR_AUTOCREATE_DISABLE", "1")],
        ))
        .unwrap();
        assert!(!l.zoo_cfg.settings.datadir_autocreate);
    }
}
