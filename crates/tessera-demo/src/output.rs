//! The files on disk: buffered writers, running line numbers and `defects.csv`.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::DemoError;
use crate::chunk::Out;
use crate::defects::{Defect, File};
use crate::rows;
use crate::write::push_int;

struct Writer {
    path: PathBuf,
    out: BufWriter<fs::File>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Writer {
    fn create(dir: &Path, name: &str, header: &[u8]) -> Result<Writer, DemoError> {
        let path = dir.join(name);
        let file = fs::File::create(&path).map_err(io_error(&path))?;
        let mut w = Writer {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
        };
        w.write(header)?;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), DemoError> {
        self.out.write_all(bytes).map_err(io_error(&self.path))
    }

    fn finish(mut self) -> Result<(), DemoError> {
        self.out.flush().map_err(io_error(&self.path))
    }
}

/// Writes chunks in order and turns chunk-relative defect lines into file lines.
pub(crate) struct Output {
    files: Vec<Writer>,
    truth: Writer,
    /// Physical lines written so far per file (headers included).
    lines: [u64; 4],
    defects: Vec<Defect>,
}

impl Output {
    /// Creates `dir`, writes `tessera.toml` and opens the data files.
    pub(crate) fn create(dir: &Path, config: &str) -> Result<Output, DemoError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let path = dir.join("tessera.toml");
        fs::write(&path, config).map_err(io_error(&path))?;
        let header = |f: File| match f {
            File::Customers => rows::CUSTOMERS_HEADER,
            File::Events => b"",
            File::Feedback => rows::FEEDBACK_HEADER,
            File::Orders => rows::ORDERS_HEADER,
        };
        let files = File::ALL
            .iter()
            .map(|&f| Writer::create(dir, f.name(), header(f)))
            .collect::<Result<_, _>>()?;
        Ok(Output {
            files,
            truth: Writer::create(dir, "truth.csv", rows::TRUTH_HEADER)?,
            lines: File::ALL.map(|f| u64::from(f != File::Events)),
            defects: Vec::new(),
        })
    }

    /// Appends the next chunk.
    pub(crate) fn chunk(&mut self, out: &Out) -> Result<(), DemoError> {
        let lines = self.lines;
        self.defects.extend(out.defects.iter().map(|d| Defect {
            line: lines[d.file as usize] + d.line + 1,
            ..*d
        }));
        for f in File::ALL {
            let i = f as usize;
            self.files[i].write(&out.sinks[i].buf)?;
            self.lines[i] += out.sinks[i].lines;
        }
        self.truth.write(&out.truth)
    }

    /// Flushes everything and writes `defects.csv` (or removes a stale one
    /// when `dirty` is 0). Returns the number of defects.
    pub(crate) fn finish(mut self, dir: &Path, dirty: bool) -> Result<usize, DemoError> {
        for w in self.files.into_iter().chain([self.truth]) {
            w.finish()?;
        }
        let path = dir.join("defects.csv");
        if !dirty {
            if path.exists() {
                fs::remove_file(&path).map_err(io_error(&path))?;
            }
            return Ok(0);
        }
        self.defects.sort_by_key(|d| (d.file, d.line));
        let mut w = Writer::create(dir, "defects.csv", b"file,line,kind\n")?;
        let mut buf = Vec::with_capacity(64);
        for d in &self.defects {
            buf.clear();
            buf.extend_from_slice(d.file.name().as_bytes());
            buf.push(b',');
            push_int(&mut buf, d.line as i64);
            buf.push(b',');
            buf.extend_from_slice(d.kind.name().as_bytes());
            buf.push(b'\n');
            w.write(&buf)?;
        }
        w.finish()?;
        Ok(self.defects.len())
    }
}
