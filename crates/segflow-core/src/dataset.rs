//! An external input: one file, or a directory of Parquet part files as Spark, DuckDB or Hive
//! write a table (`country=DE/part-0000.parquet`, …). Which part files a directory holds and
//! what the input hashes to are decided here only, so the stage that reads a directory and
//! the lock that records it agree on its content.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Location;
use crate::hash::{file_sha256, hex};
use crate::{Error, Result};

/// Whether `path` is there to be read: a file, or a directory (of part files).
pub fn exists(path: &Path) -> bool {
    path.is_file() || path.is_dir()
}

/// One Parquet file of a directory input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub path: PathBuf,
    /// The path below the directory, components joined by `/`.
    pub relative: String,
}

/// Every `*.parquet` file below `dir`, recursively, in byte order of the relative path, so
/// the order never depends on how the file system lists a directory. Files and directories
/// whose names start with `_` or `.` are not data (`_SUCCESS`, `_delta_log`, `.crc`
/// checksums) and are skipped. A directory with no part file is bad data (65).
pub fn part_files(dir: &Path) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut visited = BTreeSet::new();
    walk(dir, "", &mut visited, &mut parts)?;
    if parts.is_empty() {
        return Err(Error::data(
            Location::file(dir),
            "the directory holds no Parquet part file (`*.parquet`, not hidden, not `_`-prefixed)",
        ));
    }
    parts.sort_by(|a, b| a.relative.as_bytes().cmp(b.relative.as_bytes()));
    Ok(parts)
}

fn walk(
    dir: &Path,
    prefix: &str,
    visited: &mut BTreeSet<PathBuf>,
    parts: &mut Vec<Part>,
) -> Result<()> {
    // A symbolic link back up the tree would otherwise be walked for ever.
    let canonical = fs::canonicalize(dir).map_err(|e| Error::open(dir, e))?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    let entries = fs::read_dir(dir).map_err(|e| Error::open(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            // Spark, DuckDB and Hive write UTF-8 names; anything else is not theirs.
            continue;
        };
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            walk(&path, &format!("{relative}/"), visited, parts)?;
        } else if name.ends_with(".parquet") && path.is_file() {
            parts.push(Part { path, relative });
        }
    }
    Ok(())
}

/// The content hash of an input: a file's SHA-256, or for a directory the SHA-256 of the
/// list of its part files, one line `relative path NUL file SHA-256` each in part order, so
/// adding, removing, renaming or changing a part file changes it.
pub fn input_sha256(path: &Path) -> Result<String> {
    if !path.is_dir() {
        return file_sha256(path);
    }
    let mut hasher = Sha256::new();
    for part in part_files(path)? {
        hasher.update(part.relative.as_bytes());
        hasher.update([0]);
        hasher.update(file_sha256(&part.path)?.as_bytes());
        hasher.update(b"\n");
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("segflow-dataset-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(dir: &Path, relative: &str, bytes: &[u8]) {
        let path = dir.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn part_files_are_the_visible_parquet_files_in_byte_order_of_their_path() {
        let dir = scratch("order");
        for relative in [
            "b=2/part-1.parquet",
            "b=2/part-0.parquet",
            "a-b/x.parquet",
            "a/x.parquet",
            "_SUCCESS",
            "_delta_log/0.parquet",
            "a/.part-0.parquet.crc",
            "a/.hidden.parquet",
            "a/notes.txt",
        ] {
            write(&dir, relative, b"x");
        }
        let relative: Vec<String> = part_files(&dir)
            .unwrap()
            .into_iter()
            .map(|p| p.relative)
            .collect();
        // `-` sorts before `/`: the order is of the whole path's bytes.
        assert_eq!(
            relative,
            [
                "a-b/x.parquet",
                "a/x.parquet",
                "b=2/part-0.parquet",
                "b=2/part-1.parquet"
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_hashes_its_part_files_and_their_names() {
        let dir = scratch("hash");
        write(&dir, "k=1/part-0.parquet", b"one");
        write(&dir, "k=2/part-0.parquet", b"two");
        let before = input_sha256(&dir).unwrap();
        write(&dir, "_SUCCESS", b"");
        assert_eq!(input_sha256(&dir).unwrap(), before, "markers are not data");
        write(&dir, "k=2/part-0.parquet", b"TWO");
        let changed = input_sha256(&dir).unwrap();
        assert_ne!(changed, before);
        fs::rename(dir.join("k=2"), dir.join("k=3")).unwrap();
        assert_ne!(input_sha256(&dir).unwrap(), changed, "a renamed partition");
        write(&dir, "k=4/part-0.parquet", b"four");
        assert_eq!(part_files(&dir).unwrap().len(), 3);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_without_part_files_is_bad_data_naming_it() {
        let dir = scratch("empty");
        write(&dir, "_SUCCESS", b"");
        let e = part_files(&dir).unwrap_err();
        assert_eq!(e.exit_code(), 65);
        assert!(e.to_string().contains(&dir.display().to_string()), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
