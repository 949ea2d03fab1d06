//! Finding the configuration file exactly where `zkServer.sh`/`zkEnv.sh` would.
//!
//! Images and operators start ZooKeeper as `zkServer.sh [--config DIR] start-foreground
//! [cfg]` with `ZOOCFGDIR`/`ZOOCFG` in the environment and `java.env`/`zookeeper-env.sh` in
//! the config directory. To be a drop-in binary we resolve the same path in the same order:
//!
//! 1. `ZOOCFGDIR` = `--config DIR`, else `$ZOOCFGDIR`, else `<bin>/../conf` when
//!    `<bin>/../conf` exists, else `<bin>/../etc/zookeeper`;
//! 2. source `$ZOOCFGDIR/zookeeper-env.sh` (may set `ZOOCFG`, `JVMFLAGS`, …);
//! 3. `ZOOCFG` = `$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}`;
//! 4. source `$ZOOCFGDIR/java.env`;
//! 5. a positional config argument replaces it: a bare file name is taken inside
//!    `$ZOOCFGDIR`, anything containing a `/` is used verbatim (zkServer.sh's `dirname` test).

use std::path::{Path, PathBuf};

use super::system_properties::ShellEnv;

/// Inputs of the resolution; separated from the process so it can be unit-tested.
#[derive(Debug, Clone, Default)]
pub struct LocateRequest {
    /// `--config DIR`.
    pub config_dir: Option<PathBuf>,
    /// Positional config argument (zkServer.sh's `$2`), empty string counts as absent.
    pub config_arg: Option<String>,
    /// Directory holding the binary (`ZOOBINDIR`); `None` uses the running executable's.
    pub bin_dir: Option<PathBuf>,
}

/// Result of the resolution.
#[derive(Debug, Clone)]
pub struct Located {
    /// The effective `ZOOCFGDIR`.
    pub config_dir: PathBuf,
    /// The effective `ZOOCFG` (what zkServer.sh prints after `Using config:`).
    pub config_file: PathBuf,
    /// `ZOOKEEPER_PREFIX` (`<bin>/..`), used for the default log directory.
    pub prefix: PathBuf,
    /// Environment after sourcing `zookeeper-env.sh` and `java.env`.
    pub env: ShellEnv,
    /// Env files that were found and read, in order.
    pub sourced_files: Vec<PathBuf>,
}

impl Located {
    /// `ZOO_LOG_DIR`, defaulting to `<prefix>/logs` like zkEnv.sh.
    pub fn log_dir(&self) -> PathBuf {
        match self.env.non_empty("ZOO_LOG_DIR") {
            Some(d) => PathBuf::from(d),
            None => self.prefix.join("logs"),
        }
    }
}

/// The directory of the running executable (`ZOOBINDIR`).
pub fn current_bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok().or(Some(p)))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Resolves the config directory and file, reading env files into `env`.
///
/// Env files that exist but cannot be read are skipped with a note in `env.notes`.
pub fn locate(req: &LocateRequest, mut env: ShellEnv) -> Located {
    let bin_dir = req.bin_dir.clone().unwrap_or_else(current_bin_dir);
    let prefix = bin_dir.join("..");
    let config_dir = if let Some(d) = &req.config_dir {
        d.clone()
    } else if let Some(d) = env.non_empty("ZOOCFGDIR") {
        PathBuf::from(d)
    } else if prefix.join("conf").exists() {
        bin_dir.join("..").join("conf")
    } else {
        bin_dir.join("..").join("etc").join("zookeeper")
    };
    env.vars.insert(
        "ZOOCFGDIR".to_string(),
        config_dir.to_string_lossy().into_owned(),
    );

    let mut sourced_files = Vec::new();
    source_if_file(
        &config_dir.join("zookeeper-env.sh"),
        &mut env,
        &mut sourced_files,
    );

    let cfg_name = env.non_empty("ZOOCFG").unwrap_or("zoo.cfg").to_string();
    let mut config_file = if Path::new(&cfg_name).is_absolute() {
        // zkServer.sh would end up with an empty path here; using it verbatim is kinder.
        PathBuf::from(&cfg_name)
    } else {
        config_dir.join(&cfg_name)
    };

    source_if_file(&config_dir.join("java.env"), &mut env, &mut sourced_files);

    if let Some(arg) = req.config_arg.as_deref().filter(|a| !a.is_empty()) {
        config_file = if arg.contains('/') {
            PathBuf::from(arg)
        } else {
            config_dir.join(arg)
        };
    }

    Located {
        config_dir,
        config_file,
        prefix,
        env,
        sourced_files,
    }
}

fn source_if_file(path: &Path, env: &mut ShellEnv, sourced: &mut Vec<PathBuf>) {
    if !path.is_file() {
        return;
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            env.source(&path.to_string_lossy(), &text);
            sourced.push(path.to_path_buf());
        }
        Err(e) => env
            .notes
            .push(format!("{}: cannot read: {e}", path.to_string_lossy())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::TempDir;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> ShellEnv {
        ShellEnv::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn default_conf_next_to_bin() {
        let t = TempDir::new("locate1");
        std::fs::create_dir_all(t.path().join("bin")).unwrap();
        std::fs::create_dir_all(t.path().join("conf")).unwrap();
        let req = LocateRequest {
            bin_dir: Some(t.path().join("bin")),
            ..Default::default()
        };
        let l = locate(&req, env(&[]));
        assert_eq!(l.config_dir, t.path().join("bin/../conf"));
        assert_eq!(l.config_file, t.path().join("bin/../conf/zoo.cfg"));
        assert_eq!(l.log_dir(), t.path().join("bin/../logs"));
    }

    #[test]
    fn etc_zookeeper_fallback() {
        let t = TempDir::new("locate2");
        let req = LocateRequest {
            bin_dir: Some(t.path().join("bin")),
            ..Default::default()
        };
        let l = locate(&req, env(&[]));
        assert_eq!(l.config_dir, t.path().join("bin/../etc/zookeeper"));
    }

    #[test]
    fn zoocfgdir_and_zoocfg_env_and_flag() {
        let t = TempDir::new("locate3");
        let req = LocateRequest {
            bin_dir: Some(t.path().join("bin")),
            ..Default::default()
        };
        let l = locate(&req, env(&[("ZOOCFGDIR", "/conf"), ("ZOOCFG", "my.cfg")]));
        assert_eq!(l.config_file, PathBuf::from("/conf/my.cfg"));
        let req = LocateRequest {
            bin_dir: Some(t.path().join("bin")),
            config_dir: Some(PathBuf::from("/data/conf")),
            ..Default::default()
        };
        let l = locate(&req, env(&[("ZOOCFGDIR", "/conf")]));
        assert_eq!(l.config_file, PathBuf::from("/data/conf/zoo.cfg"));
    }

    #[test]
    fn positional_argument() {
        let req = LocateRequest {
            bin_dir: Some(PathBuf::from("/nonexistent/bin")),
            config_arg: Some("other.cfg".into()),
            ..Default::default()
        };
        let l = locate(&req, env(&[("ZOOCFGDIR", "/conf")]));
        assert_eq!(l.config_file, PathBuf::from("/conf/other.cfg"));
        let req = LocateRequest {
            config_arg: Some("/etc/zk/zoo.cfg".into()),
            ..req
        };
        let l = locate(&req, env(&[("ZOOCFGDIR", "/conf")]));
        assert_eq!(l.config_file, PathBuf::from("/etc/zk/zoo.cfg"));
        let req = LocateRequest {
            config_arg: Some("rel/zoo.cfg".into()),
            ..req
        };
        let l = locate(&req, env(&[("ZOOCFGDIR", "/conf")]));
        assert_eq!(l.config_file, PathBuf::from("rel/zoo.cfg"));
    }

    #[test]
    fn env_files_are_sourced_in_order() {
        let t = TempDir::new("locate4");
        let conf = t.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("zookeeper-env.sh"),
            "ZOOCFG=alt.cfg\nexport JVMFLAGS=\"-Da=1\"\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("java.env"),
            "JVMFLAGS=\"$JVMFLAGS -Db=2\"\nZOO_LOG_DIR=/logs\n",
        )
        .unwrap();
        let req = LocateRequest {
            config_dir: Some(conf.clone()),
            bin_dir: Some(t.path().join("bin")),
            ..Default::default()
        };
        let l = locate(&req, env(&[]));
        assert_eq!(l.config_file, conf.join("alt.cfg"));
        assert_eq!(l.env.vars["JVMFLAGS"], "-Da=1 -Db=2");
        assert_eq!(l.log_dir(), PathBuf::from("/logs"));
        assert_eq!(l.sourced_files.len(), 2);
    }
}
