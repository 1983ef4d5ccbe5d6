//! The one I/O seam of the wrapper: reading configuration files and listing configuration
//! directories. [`Disk`] reads the real file system below a root (`/` in production, a temp
//! dir in tests); [`Memory`] holds files in a map for the unit tests of the rules.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// What one entry of a configuration directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// Sockets, devices, dangling links: never configuration.
    Other,
}

/// Read-only access to configuration, by absolute paths such as `/etc/mesos/zk`.
pub trait ConfigFiles {
    /// The file's text; `Ok(None)` when it does not exist.
    fn read(&self, path: &Path) -> io::Result<Option<String>>;
    /// The entries of a directory, sorted by name; empty when it does not exist.
    fn list(&self, dir: &Path) -> io::Result<Vec<(String, EntryKind)>>;
}

/// The real file system, with every absolute path taken relative to `root`.
#[derive(Debug, Clone)]
pub struct Disk {
    pub root: PathBuf,
}

impl Disk {
    fn real(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }
}

impl ConfigFiles for Disk {
    fn read(&self, path: &Path) -> io::Result<Option<String>> {
        match std::fs::read(self.real(path)) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(String, EntryKind)>> {
        let entries = match std::fs::read_dir(self.real(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            // Follow symbolic links, as `[[ -f ]]` does in Mesosphere's shell wrapper.
            let kind = match std::fs::metadata(entry.path()) {
                Ok(m) if m.is_file() => EntryKind::File,
                Ok(m) if m.is_dir() => EntryKind::Dir,
                _ => EntryKind::Other,
            };
            out.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// Files in memory, for tests: a path maps to its text, or to an error when reading it.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    files: BTreeMap<PathBuf, Result<String, io::ErrorKind>>,
}

impl Memory {
    pub fn with(mut self, path: &str, text: &str) -> Self {
        self.files.insert(path.into(), Ok(text.to_string()));
        self
    }

    /// A file that exists but cannot be read.
    pub fn unreadable(mut self, path: &str) -> Self {
        self.files
            .insert(path.into(), Err(io::ErrorKind::PermissionDenied));
        self
    }
}

impl ConfigFiles for Memory {
    fn read(&self, path: &Path) -> io::Result<Option<String>> {
        match self.files.get(path) {
            None => Ok(None),
            Some(Ok(text)) => Ok(Some(text.clone())),
            Some(Err(kind)) => Err(io::Error::from(*kind)),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(String, EntryKind)>> {
        let mut out: BTreeMap<String, EntryKind> = BTreeMap::new();
        for path in self.files.keys() {
            let Ok(rest) = path.strip_prefix(dir) else {
                continue;
            };
            let mut parts = rest.components();
            let (Some(first), second) = (parts.next(), parts.next()) else {
                continue;
            };
            let name = first.as_os_str().to_string_lossy().into_owned();
            let kind = if second.is_some() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            out.insert(name, kind);
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_reads_below_its_root_and_lists_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/mesos-slave/attributes")).unwrap();
        std::fs::write(dir.path().join("etc/mesos-slave/port"), "5051\n").unwrap();
        std::fs::write(dir.path().join("etc/mesos-slave/ip"), "127.0.0.1").unwrap();
        let disk = Disk {
            root: dir.path().to_path_buf(),
        };
        assert_eq!(
            disk.read(Path::new("/etc/mesos-slave/port")).unwrap(),
            Some("5051\n".to_string())
        );
        assert_eq!(disk.read(Path::new("/etc/mesos/zk")).unwrap(), None);
        assert_eq!(
            disk.list(Path::new("/etc/mesos-slave")).unwrap(),
            vec![
                ("attributes".to_string(), EntryKind::Dir),
                ("ip".to_string(), EntryKind::File),
                ("port".to_string(), EntryKind::File),
            ]
        );
        assert!(disk
            .list(Path::new("/etc/marathon/conf"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn memory_lists_files_and_subdirectories() {
        let files = Memory::default()
            .with("/etc/mesos-slave/port", "5051")
            .with("/etc/mesos-slave/attributes/rack", "a");
        assert_eq!(
            files.list(Path::new("/etc/mesos-slave")).unwrap(),
            vec![
                ("attributes".to_string(), EntryKind::Dir),
                ("port".to_string(), EntryKind::File),
            ]
        );
    }
}
