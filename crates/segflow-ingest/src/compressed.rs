//! Text input that may be gzip- or zstd-compressed, recognised by its magic bytes (not its
//! name) and decompressed as it is read, so memory does not grow with the file.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use segflow_core::error::Location;
use segflow_core::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Bytes that do not decompress: the file is bad data (exit 65), not an I/O failure. Carried
/// inside an `io::Error` through the CSV reader, which only passes `io::Error`s on.
#[derive(Debug)]
pub struct Corrupt {
    format: &'static str,
    detail: String,
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt or truncated {} input: {}",
            self.format, self.detail
        )
    }
}

impl std::error::Error for Corrupt {}

impl Corrupt {
    /// The data error for `path` if `e` came from bytes that do not decompress.
    pub fn as_data_error(path: &Path, e: &io::Error) -> Option<Error> {
        let corrupt = e.get_ref()?.downcast_ref::<Corrupt>()?;
        Some(Error::data(Location::file(path), corrupt.to_string()))
    }
}

/// Opens `path` for reading its text, decompressed if it starts with a gzip or zstd header.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| Error::open(path, e))?;
    let mut source = BufReader::new(Watched {
        inner: file,
        failed: false,
    });
    let head = source.fill_buf().map_err(|e| Error::io(path, e))?;
    let codec = if head.starts_with(&GZIP_MAGIC) {
        Codec::Gzip(MultiGzDecoder::new(source))
    } else if head.starts_with(&ZSTD_MAGIC) {
        Codec::Zstd(Box::new(Zstd::new(source).map_err(|e| {
            Corrupt::as_data_error(path, &e).unwrap_or_else(|| Error::io(path, e))
        })?))
    } else {
        return Ok(Box::new(source));
    };
    Ok(Box::new(BufReader::new(Decompressed(codec))))
}

/// The file under a decoder, remembering whether reading it failed: the decoder reports both
/// the file's errors and its own, and only the former are I/O errors.
struct Watched<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf);
        self.failed |= read.is_err();
        read
    }
}

type Source = BufReader<Watched<File>>;

enum Codec {
    Gzip(MultiGzDecoder<Source>),
    // Boxed: a zstd frame decoder holds its buffers inline.
    Zstd(Box<Zstd<Source>>),
}

struct Decompressed(Codec);

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (read, format, source) = match &mut self.0 {
            Codec::Gzip(d) => (d.read(buf), "gzip", d.get_ref()),
            Codec::Zstd(d) => (d.read(buf), "zstd", &d.source),
        };
        read.map_err(|e| {
            if source.get_ref().failed {
                e
            } else {
                corrupt(format, e)
            }
        })
    }
}

fn corrupt(format: &'static str, e: impl fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        Corrupt {
            format,
            detail: e.to_string(),
        },
    )
}

/// A zstd stream of any number of frames (as `zstd` writes for concatenated or multi-threaded
/// output), skipping skippable frames and checking each frame's checksum where it has one.
struct Zstd<R> {
    source: R,
    frame: FrameDecoder,
}

impl<R: BufRead> Zstd<R> {
    fn new(mut source: R) -> io::Result<Self> {
        let mut frame = FrameDecoder::new();
        start_frame(&mut frame, &mut source)?;
        Ok(Self { source, frame })
    }
}

/// Reads the next frame header, skipping skippable frames; `false` at the end of the stream.
fn start_frame(frame: &mut FrameDecoder, source: &mut impl BufRead) -> io::Result<bool> {
    loop {
        if source.fill_buf()?.is_empty() {
            return Ok(false);
        }
        match frame.reset(&mut *source) {
            Ok(()) => return Ok(true),
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                let skipped = io::copy(&mut source.take(u64::from(length)), &mut io::sink())?;
                if skipped < u64::from(length) {
                    return Err(corrupt("zstd", "skippable frame cut short"));
                }
            }
            Err(e) => return Err(corrupt("zstd", e)),
        }
    }
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.frame.can_collect() > 0 {
                return self.frame.read(buf);
            }
            if !self.frame.is_finished() {
                self.frame
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(|e| corrupt("zstd", e))?;
                continue;
            }
            if let (Some(stored), Some(computed)) = (
                self.frame.get_checksum_from_data(),
                self.frame.get_calculated_checksum(),
            ) && stored != computed
            {
                return Err(corrupt("zstd", "frame checksum does not match"));
            }
            if !start_frame(&mut self.frame, &mut self.source)? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};

    use super::*;

    /// The text segflow reads from a file holding `bytes`.
    fn read(name: &str, bytes: &[u8]) -> Result<String> {
        let path =
            std::env::temp_dir().join(format!("segflow-compressed-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let mut text = String::new();
        let read = open(&path).and_then(|mut r| {
            r.read_to_string(&mut text).map_err(|e| {
                Corrupt::as_data_error(&path, &e).unwrap_or_else(|| Error::io(&path, e))
            })
        });
        std::fs::remove_file(&path).unwrap();
        read.map(|_| text)
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn zstd(text: &str) -> Vec<u8> {
        compress_to_vec(text.as_bytes(), CompressionLevel::Fastest)
    }

    #[test]
    fn concatenated_members_and_frames_are_read_one_after_the_other() {
        let gz = [gzip("a,b\n1,2\n"), gzip("3,4\n")].concat();
        assert_eq!(read("multi.gz", &gz).unwrap(), "a,b\n1,2\n3,4\n");
        // A skippable frame (magic 0x184D2A50, 3 bytes of payload) between two data frames.
        let skippable = [&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0][..], b"xyz"].concat();
        let zst = [zstd("a,b\n1,2\n"), skippable, zstd("3,4\n")].concat();
        assert_eq!(read("multi.zst", &zst).unwrap(), "a,b\n1,2\n3,4\n");
        assert_eq!(read("plain.csv", b"a,b\n").unwrap(), "a,b\n");
    }

    #[test]
    fn bytes_that_do_not_decompress_are_bad_data() {
        let whole = zstd("a,b\n1,2\n");
        for (name, bytes) in [
            ("cut.gz", gzip("a,b\n1,2\n")[..12].to_vec()),
            ("cut.zst", whole[..whole.len() - 3].to_vec()),
            ("junk.zst", [&ZSTD_MAGIC[..], b"junk"].concat()),
        ] {
            let e = read(name, &bytes).unwrap_err();
            assert_eq!(e.exit_code(), 65, "{name}: {e}");
            assert!(
                e.to_string().contains("corrupt or truncated"),
                "{name}: {e}"
            );
        }
    }
}
