//! The embedded catalog: one small checksummed file per datasource, in the
//! data directory, changed only by atomic renames.
//!
//! # Layout
//!
//! ```text
//! <data>/LOCK                               held (flock) while a process uses <data>; holds its pid
//! <data>/catalog/<datasource>.json          one catalog file per datasource (format: file_format)
//! <data>/catalog/<datasource>.json.tmp      a change being written; never read
//! <data>/catalog/<datasource>.json.tombstone  a dropped datasource being deleted; never read
//! <data>/segments/<datasource>/<segment>/   the files of one segment (SegmentId::dir_name)
//! ```
//!
//! One file per datasource keeps a publish cheap: it rewrites the file of the
//! datasource it touches and nothing else.
//!
//! # Crash safety
//!
//! A change is committed by exactly one `rename`, which POSIX makes atomic:
//!
//! 1. the new contents go to `<file>.tmp`, which is then fsync'd;
//! 2. `<file>.tmp` is renamed over `<file>` — the commit point;
//! 3. the `catalog/` directory is fsync'd, so the rename itself is durable.
//!
//! Dropping a datasource renames its file to `<file>.tombstone` (the commit
//! point), fsyncs the directory, then deletes the tombstone and the
//! datasource's segment directory. A process that dies at any moment leaves
//! either the old file or the new one in place — never a mix — plus perhaps a
//! `.tmp` or `.tombstone`, which are never read.
//!
//! Before committing a publish, the catalog fsyncs the new segments'
//! directories (every file, the directory, its parents), so a catalog never
//! lists a segment whose files could vanish in a power cut. A publish naming a
//! segment whose directory does not exist is refused.
//!
//! If a step after the commit point fails (the directory fsync), nobody can
//! tell whether the change will survive a crash; the catalog then refuses
//! further changes ([`CatalogError::Poisoned`]) until it is reopened, rather
//! than build on a state that might not be on disk.
//!
//! # Opening
//!
//! [`FileCatalog::open`] first takes an exclusive lock on `<data>/LOCK`, so a
//! second process on the same directory — a second server, an offline loader —
//! fails at once with [`CatalogError::DataDirInUse`] naming the holder's pid.
//! The lock is released when the catalog is dropped, or by the OS when the
//! process dies.
//!
//! It then reads every catalog file; a damaged one fails the open with
//! [`CatalogError::CorruptFile`] naming the file (the catalog never serves a
//! datasource it could only partly read). Only after every file has been
//! read does it sweep what interrupted changes left behind, logging each
//! removal: `.tmp` files, tombstones, and directories under `segments/` that
//! no catalog file lists — segments written but never published, retired
//! segments whose deletion was cut short, dropped datasources.
//!
//! After a publish, the directories of the segments it retired are deleted at
//! once (best effort: a failure is logged, and the next open sweeps them).
//! Readers that mapped those files keep their mappings on Unix; a reader that
//! took a snapshot but has not opened the segment yet must take a new snapshot.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tracing::{debug, info, warn};

use super::file_format;
use super::publish::{self, Publish, PublishOutcome};
use super::segment_id::{SegmentDescriptor, SegmentId};
use super::version::Version;
use super::{Catalog, CatalogError, DataSourceState};
use crate::spec::{DataSourceName, DataSourceSpec};

const CATALOG_SUFFIX: &str = ".json";
const TMP_SUFFIX: &str = ".tmp";
const TOMBSTONE_SUFFIX: &str = ".tombstone";

/// Stops a change dead at `$point` in tests, as if the process had died
/// there; compiled out of every other build.
macro_rules! crash_point {
    ($catalog:expr, $point:ident) => {
        #[cfg(test)]
        $catalog.crash_if_armed(CrashPoint::$point)?;
    };
}

/// The catalog kept in files under a data directory. See the [module
/// docs](self) for the layout and the crash-safety protocol.
#[derive(Debug)]
pub struct FileCatalog {
    layout: Layout,
    /// Holds the data directory's lock for as long as the catalog lives.
    _lock: File,
    /// Serializes changes; held for the whole of a change, I/O included.
    writer: Mutex<WriterState>,
    /// The committed state. Locked only to copy or swap an `Arc`, so readers
    /// never wait for a change's I/O.
    datasources: RwLock<BTreeMap<DataSourceName, Arc<DataSourceState>>>,
    /// The newest version stored or handed out.
    newest_version: Mutex<Option<Version>>,
    #[cfg(test)]
    crash_at: Mutex<Option<CrashPoint>>,
}

#[derive(Debug, Default)]
struct WriterState {
    /// Why changes are refused, once a write past its commit point failed.
    poisoned: Option<String>,
}

/// The paths of a data directory.
#[derive(Debug)]
struct Layout {
    root: PathBuf,
    catalog_dir: PathBuf,
    segments_dir: PathBuf,
}

impl Layout {
    fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
            catalog_dir: root.join("catalog"),
            segments_dir: root.join("segments"),
        }
    }

    fn lock_file(&self) -> PathBuf {
        self.root.join("LOCK")
    }

    // Paths are only ever built from a `DataSourceName`, which is one safe
    // path component: no name can lead outside the data directory.
    fn catalog_file(&self, name: &DataSourceName) -> PathBuf {
        self.catalog_dir.join(format!("{name}{CATALOG_SUFFIX}"))
    }

    fn segments_of(&self, name: &DataSourceName) -> PathBuf {
        self.segments_dir.join(name.as_str())
    }
}

/// A step at which tests can stop a change dead.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashPoint {
    /// Half of the new contents are in `<file>.tmp`.
    TmpPartlyWritten,
    /// `<file>.tmp` is written, not fsync'd.
    TmpWritten,
    /// `<file>.tmp` is fsync'd, not yet renamed.
    TmpSynced,
    /// The commit rename (or the rename to a tombstone) is done; the
    /// directory is not fsync'd.
    Renamed,
    /// The change is durable; nothing has been cleaned up yet (retired
    /// segments, a tombstone, leftover segment files).
    DirSynced,
    /// A drop has deleted its tombstone, not yet the segment directory.
    TombstoneDeleted,
}

#[cfg(test)]
impl CrashPoint {
    pub(crate) const ALL: [CrashPoint; 6] = [
        CrashPoint::TmpPartlyWritten,
        CrashPoint::TmpWritten,
        CrashPoint::TmpSynced,
        CrashPoint::Renamed,
        CrashPoint::DirSynced,
        CrashPoint::TombstoneDeleted,
    ];
}

impl FileCatalog {
    /// Opens (creating it if needed) the catalog of data directory `data_dir`.
    ///
    /// Fails if another process has the directory open, or if a catalog
    /// file is damaged; cleans up what interrupted changes left behind.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<FileCatalog, CatalogError> {
        let layout = Layout::new(data_dir.as_ref());
        fs::create_dir_all(&layout.root).map_err(io_error("creating", &layout.root))?;
        let lock = lock_data_dir(&layout)?;
        for dir in [&layout.catalog_dir, &layout.segments_dir] {
            fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
        }
        sync_dir(&layout.root)?;

        let datasources = load_catalog_files(&layout)?;
        sweep_segments(&layout, &datasources)?;
        let newest_version = datasources
            .values()
            .flat_map(|state| state.segments.iter().map(|s| s.id.version()))
            .max();
        info!(
            data_dir = %layout.root.display(),
            datasources = datasources.len(),
            "opened catalog"
        );
        Ok(FileCatalog {
            layout,
            _lock: lock,
            writer: Mutex::new(WriterState::default()),
            datasources: RwLock::new(datasources),
            newest_version: Mutex::new(newest_version),
            #[cfg(test)]
            crash_at: Mutex::new(None),
        })
    }

    /// The data directory this catalog lives in.
    pub fn data_dir(&self) -> &Path {
        &self.layout.root
    }

    /// Takes the writer lock, unless an earlier failure poisoned the catalog.
    fn writer(&self) -> Result<MutexGuard<'_, WriterState>, CatalogError> {
        // A panic elsewhere cannot leave `WriterState` half-updated: it is one field.
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        match &writer.poisoned {
            Some(cause) => Err(CatalogError::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(writer),
        }
    }

    fn snapshot(&self, name: &str) -> Option<Arc<DataSourceState>> {
        // Changes swap whole `Arc`s, so a panicking holder cannot leave a torn map.
        let datasources = self
            .datasources
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        datasources.get(name).cloned()
    }

    fn existing(&self, name: &str) -> Result<Arc<DataSourceState>, CatalogError> {
        self.snapshot(name)
            .ok_or_else(|| CatalogError::UnknownDatasource {
                name: name.to_owned(),
            })
    }

    fn install(&self, name: &DataSourceName, state: Option<Arc<DataSourceState>>) {
        let mut datasources = self
            .datasources
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match state {
            Some(state) => datasources.insert(name.clone(), state),
            None => datasources.remove(name),
        };
    }

    fn note_versions(&self, segments: &[SegmentDescriptor]) {
        let newest_published = segments.iter().map(|s| s.id.version()).max();
        let mut newest = self
            .newest_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *newest = (*newest).max(newest_published);
    }

    /// Writes `state` to its catalog file and commits it (steps 1-3 of the
    /// protocol in the module docs).
    fn write_datasource(
        &self,
        writer: &mut WriterState,
        state: &DataSourceState,
    ) -> Result<(), CatalogError> {
        let name = state.spec.data_source_name();
        let bytes = file_format::encode(state).map_err(|source| CatalogError::Encode {
            name: name.to_string(),
            source,
        })?;
        let target = self.layout.catalog_file(name);
        let tmp = with_suffix(&target, TMP_SUFFIX);
        self.write_synced(&tmp, &bytes)?;
        fs::rename(&tmp, &target).map_err(io_error("renaming into place", &tmp))?;
        self.make_rename_durable(writer)
    }

    /// Writes `bytes` to a fresh file at `path` and fsyncs it.
    fn write_synced(&self, path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
        let mut file = File::create(path).map_err(io_error("creating", path))?;
        #[cfg(test)]
        if self.armed() == Some(CrashPoint::TmpPartlyWritten) {
            let half = bytes.get(..bytes.len() / 2).unwrap_or_default();
            file.write_all(half).map_err(io_error("writing", path))?;
            return self.crash_if_armed(CrashPoint::TmpPartlyWritten);
        }
        file.write_all(bytes).map_err(io_error("writing", path))?;
        crash_point!(self, TmpWritten);
        file.sync_all().map_err(io_error("syncing", path))?;
        crash_point!(self, TmpSynced);
        Ok(())
    }

    /// Fsyncs the catalog directory after a commit rename. The change may or
    /// may not survive a crash if this fails, so failure poisons the catalog.
    fn make_rename_durable(&self, writer: &mut WriterState) -> Result<(), CatalogError> {
        let synced = self.sync_catalog_dir();
        if let Err(error) = &synced {
            writer.poisoned = Some(error.to_string());
        }
        synced
    }

    fn sync_catalog_dir(&self) -> Result<(), CatalogError> {
        crash_point!(self, Renamed);
        sync_dir(&self.layout.catalog_dir)
    }

    /// Makes the files of segments about to be published durable, and checks
    /// that they are there at all.
    fn sync_segments(&self, segments: &[SegmentDescriptor]) -> Result<(), CatalogError> {
        let mut parents = HashSet::new();
        for segment in segments {
            let dir = self.segment_dir(&segment.id);
            if !dir.is_dir() {
                return Err(CatalogError::MissingSegmentFiles {
                    segment: segment.id.clone(),
                    dir,
                });
            }
            sync_tree(&dir)?;
            parents.insert(self.layout.segments_of(segment.id.datasource()));
        }
        for parent in &parents {
            sync_dir(parent)?;
        }
        if !parents.is_empty() {
            sync_dir(&self.layout.segments_dir)?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn crash_at(&self, point: CrashPoint) {
        *self.crash_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(point);
    }

    #[cfg(test)]
    fn armed(&self) -> Option<CrashPoint> {
        *self.crash_at.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn crash_if_armed(&self, point: CrashPoint) -> Result<(), CatalogError> {
        if self.armed() == Some(point) {
            return Err(CatalogError::Io {
                action: "simulating a crash in",
                path: self.layout.root.clone(),
                source: io::Error::other(format!("crash point {point:?}")),
            });
        }
        Ok(())
    }
}

impl Catalog for FileCatalog {
    fn create_datasource(
        &self,
        spec: DataSourceSpec,
    ) -> Result<Arc<DataSourceState>, CatalogError> {
        let name = spec.data_source_name().clone();
        let mut writer = self.writer()?;
        if self.snapshot(name.as_str()).is_some() {
            return Err(CatalogError::AlreadyExists {
                name: name.to_string(),
            });
        }
        let state = DataSourceState::new(spec);
        self.write_datasource(&mut writer, &state)?;
        let state = Arc::new(state);
        self.install(&name, Some(state.clone()));
        info!(datasource = %name, "created datasource");

        crash_point!(self, DirSynced);
        // Files of an earlier datasource of this name whose drop was cut short.
        remove_dir_logged(
            &self.layout.segments_of(&name),
            "segments of a dropped datasource",
        );
        Ok(state)
    }

    fn update_spec(
        &self,
        name: &str,
        spec: DataSourceSpec,
    ) -> Result<Arc<DataSourceState>, CatalogError> {
        if spec.name() != name {
            return Err(CatalogError::SpecNameMismatch {
                name: name.to_owned(),
                in_spec: spec.name().to_owned(),
            });
        }
        let mut writer = self.writer()?;
        let current = self.existing(name)?;
        let state = DataSourceState {
            spec,
            segments: current.segments.clone(),
            offsets: current.offsets.clone(),
        };
        self.write_datasource(&mut writer, &state)?;
        let state = Arc::new(state);
        self.install(state.spec.data_source_name(), Some(state.clone()));
        info!(datasource = %name, "updated datasource spec");
        Ok(state)
    }

    fn drop_datasource(&self, name: &str) -> Result<Vec<SegmentDescriptor>, CatalogError> {
        let mut writer = self.writer()?;
        let current = self.existing(name)?;
        let datasource = current.spec.data_source_name();
        let file = self.layout.catalog_file(datasource);
        let tombstone = with_suffix(&file, TOMBSTONE_SUFFIX);
        fs::rename(&file, &tombstone).map_err(io_error("renaming to a tombstone", &file))?;
        self.make_rename_durable(&mut writer)?;
        self.install(datasource, None);
        info!(datasource = %name, segments = current.segments.len(), "dropped datasource");

        crash_point!(self, DirSynced);
        if let Err(error) = fs::remove_file(&tombstone) {
            warn!(path = %tombstone.display(), %error, "cannot delete tombstone; the next open will");
        }
        crash_point!(self, TombstoneDeleted);
        remove_dir_logged(
            &self.layout.segments_of(datasource),
            "segments of a dropped datasource",
        );
        Ok(current.segments.clone())
    }

    fn datasource_names(&self) -> Vec<String> {
        let datasources = self
            .datasources
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        datasources.keys().map(DataSourceName::to_string).collect()
    }

    fn datasource(&self, name: &str) -> Option<Arc<DataSourceState>> {
        self.snapshot(name)
    }

    fn publish(&self, name: &str, request: Publish) -> Result<PublishOutcome, CatalogError> {
        let mut writer = self.writer()?;
        let current = self.existing(name)?;
        let published = request.segments.clone();
        let (next, retired) =
            publish::apply(&current, request).map_err(|reason| CatalogError::PublishRejected {
                datasource: name.to_owned(),
                reason: Box::new(reason),
            })?;
        self.sync_segments(&published)?;
        self.write_datasource(&mut writer, &next)?;
        let state = Arc::new(next);
        self.install(state.spec.data_source_name(), Some(state.clone()));
        self.note_versions(&published);
        debug!(
            datasource = %name,
            published = published.len(),
            retired = retired.len(),
            "published segments"
        );

        crash_point!(self, DirSynced);
        for segment in &retired {
            remove_dir_logged(&self.segment_dir(&segment.id), "retired segment");
        }
        Ok(PublishOutcome { retired, state })
    }

    fn segment_dir(&self, id: &SegmentId) -> PathBuf {
        self.layout.segments_of(id.datasource()).join(id.dir_name())
    }

    fn new_version(&self) -> Result<Version, CatalogError> {
        let mut newest = self
            .newest_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let next = match *newest {
            Some(previous) => Version::next_after(&previous)?,
            None => Version::now(),
        };
        *newest = Some(next);
        Ok(next)
    }
}

/// Takes the exclusive lock on `<data>/LOCK` and records our pid in it.
fn lock_data_dir(layout: &Layout) -> Result<File, CatalogError> {
    let path = layout.lock_file();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error("opening", &path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut recorded = String::new();
            let pid = file
                .read_to_string(&mut recorded)
                .ok()
                .and_then(|_| recorded.trim().parse().ok());
            return Err(CatalogError::DataDirInUse {
                path: layout.root.clone(),
                pid,
            });
        }
        Err(TryLockError::Error(source)) => {
            return Err(CatalogError::Io {
                action: "locking",
                path,
                source,
            });
        }
    }
    // The pid only helps a person find the holder; the lock is what excludes.
    file.set_len(0).map_err(io_error("writing", &path))?;
    writeln!(file, "{}", std::process::id()).map_err(io_error("writing", &path))?;
    Ok(file)
}

/// Reads every catalog file, removing `.tmp` files and tombstones.
fn load_catalog_files(
    layout: &Layout,
) -> Result<BTreeMap<DataSourceName, Arc<DataSourceState>>, CatalogError> {
    let dir = &layout.catalog_dir;
    let mut datasources = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(io_error("listing", dir))? {
        let entry = entry.map_err(io_error("listing", dir))?;
        let path = entry.path();
        let is_file = entry
            .file_type()
            .map_err(io_error("inspecting", &path))?
            .is_file();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str().filter(|_| is_file) else {
            warn!(path = %path.display(), "ignoring unexpected entry in the catalog directory");
            continue;
        };
        if file_name.ends_with(TMP_SUFFIX) || file_name.ends_with(TOMBSTONE_SUFFIX) {
            info!(path = %path.display(), "removing the leftover of an interrupted catalog change");
            if let Err(error) = fs::remove_file(&path) {
                warn!(path = %path.display(), %error, "cannot remove leftover catalog file");
            }
            continue;
        }
        let Some(name) = file_name.strip_suffix(CATALOG_SUFFIX) else {
            warn!(path = %path.display(), "ignoring unexpected file in the catalog directory");
            continue;
        };
        let bytes = fs::read(&path).map_err(io_error("reading", &path))?;
        let state = file_format::decode(name, &bytes)
            .map_err(|problem| CatalogError::CorruptFile { path, problem })?;
        datasources.insert(state.spec.data_source_name().clone(), Arc::new(state));
    }
    Ok(datasources)
}

/// Removes segment directories no catalog file lists, and warns about listed
/// segments whose directory is missing.
fn sweep_segments(
    layout: &Layout,
    datasources: &BTreeMap<DataSourceName, Arc<DataSourceState>>,
) -> Result<(), CatalogError> {
    for (path, name) in subdirectories(&layout.segments_dir)? {
        let state = name.to_str().and_then(|name| datasources.get(name));
        match state {
            None => remove_dir_logged(&path, "segments of a datasource that does not exist"),
            Some(state) => sweep_datasource_segments(&path, state)?,
        }
    }
    for (name, state) in datasources {
        for segment in &state.segments {
            let dir = layout.segments_of(name).join(segment.id.dir_name());
            if !dir.is_dir() {
                warn!(
                    segment = %segment.id,
                    dir = %dir.display(),
                    "published segment has no directory; queries over it will fail"
                );
            }
        }
    }
    Ok(())
}

fn sweep_datasource_segments(dir: &Path, state: &DataSourceState) -> Result<(), CatalogError> {
    let listed: HashSet<String> = state.segments.iter().map(|s| s.id.dir_name()).collect();
    for (path, name) in subdirectories(dir)? {
        let is_listed = name.to_str().is_some_and(|name| listed.contains(name));
        if !is_listed {
            remove_dir_logged(
                &path,
                "segment that is not published (never published, or retired)",
            );
        }
    }
    Ok(())
}

/// The subdirectories of `dir` with their names; files found there are
/// logged and left alone.
fn subdirectories(dir: &Path) -> Result<Vec<(PathBuf, std::ffi::OsString)>, CatalogError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("listing", dir))? {
        let entry = entry.map_err(io_error("listing", dir))?;
        let path = entry.path();
        if entry
            .file_type()
            .map_err(io_error("inspecting", &path))?
            .is_dir()
        {
            found.push((path, entry.file_name()));
        } else {
            warn!(path = %path.display(), "ignoring unexpected file among segment directories");
        }
    }
    Ok(found)
}

/// Deletes `dir` and everything in it if it exists, logging what and why;
/// failures are logged too, since the next open sweeps again.
fn remove_dir_logged(dir: &Path, what: &str) {
    match fs::remove_dir_all(dir) {
        Ok(()) => info!(path = %dir.display(), "removed {what}"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            warn!(path = %dir.display(), %error, "cannot remove {what}; the next open will retry")
        }
    }
}

/// Fsyncs every file and directory under `dir`, then `dir` itself.
fn sync_tree(dir: &Path) -> Result<(), CatalogError> {
    for entry in fs::read_dir(dir).map_err(io_error("listing", dir))? {
        let entry = entry.map_err(io_error("listing", dir))?;
        let path = entry.path();
        if entry
            .file_type()
            .map_err(io_error("inspecting", &path))?
            .is_dir()
        {
            sync_tree(&path)?;
        } else {
            let file = File::open(&path).map_err(io_error("opening", &path))?;
            file.sync_all().map_err(io_error("syncing", &path))?;
        }
    }
    sync_dir(dir)
}

/// Fsyncs a directory, making the creations, renames and deletions in it durable.
fn sync_dir(dir: &Path) -> Result<(), CatalogError> {
    let handle = File::open(dir).map_err(io_error("opening", dir))?;
    handle.sync_all().map_err(io_error("syncing", dir))
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CatalogError {
    let path = path.to_path_buf();
    move |source| CatalogError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests;
