//! Finding each configured field among a file's columns.

use crate::error::IngestError;
use tessera_core::config::{ColumnRef, FieldConfig, did_you_mean};

/// Position of each field's column in the file; `None` for an optional field the file lacks.
pub fn resolve(
    file: &str,
    header: &[String],
    has_header: bool,
    fields: &[FieldConfig],
) -> Result<Vec<Option<usize>>, IngestError> {
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header
        .iter()
        .find(|h| !h.is_empty() && !seen.insert(h.as_str()))
    {
        return Err(IngestError::Input {
            file: file.into(),
            line: 1,
            message: format!("column `{dup}` appears twice in the header"),
        });
    }
    fields
        .iter()
        .map(|f| match &f.column {
            ColumnRef::Index(i) if *i < header.len() => Ok(Some(*i)),
            ColumnRef::Index(i) => Err(IngestError::Input {
                file: file.into(),
                line: 1,
                message: format!("{} is mapped to column {}, but the file has {} columns", f.name, i + 1, header.len()),
            }),
            ColumnRef::Name(n) => match header.iter().position(|h| h == n) {
                Some(p) if has_header => Ok(Some(p)),
                _ if f.implicit && !f.required => Ok(None),
                _ if !has_header => Err(IngestError::Input {
                    file: file.into(),
                    line: 1,
                    message: format!("{} needs a column number (the file has no header), e.g. {} = {{ column = 1 }}", f.name, f.name),
                }),
                _ => Err(IngestError::Input {
                    file: file.into(),
                    line: 1,
                    message: format!(
                        "column `{n}` for {} is not in the header{}",
                        f.name,
                        did_you_mean(n, header.iter().map(String::as_str))
                    ),
                }),
            },
        })
        .collect()
}
