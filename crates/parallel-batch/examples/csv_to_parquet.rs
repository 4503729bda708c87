//! Converts a CSV file (header line, every column a string) to Parquet, streaming: used to
//! make the same data in both formats for `benches/batch/parquet_compare.sh`.
//!
//! ```sh
//! cargo run --release -p parallel-batch --example csv_to_parquet -- in.csv out.parquet
//! ```

use std::fs::File;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const BATCH: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: csv_to_parquet IN.csv OUT.parquet".into());
    };
    let mut reader = csv::Reader::from_path(input)?;
    let names: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(File::create(output)?, Arc::clone(&schema), Some(props))?;
    let mut builders: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let mut rows = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record)?;
        if more {
            for (builder, value) in builders.iter_mut().zip(record.iter()) {
                builder.append_value(value);
            }
            rows += 1;
        }
        if rows == BATCH || (!more && rows > 0) {
            let columns: Vec<ArrayRef> = builders
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef)
                .collect();
            writer.write(&RecordBatch::try_new(Arc::clone(&schema), columns)?)?;
            rows = 0;
        }
        if !more {
            break;
        }
    }
    writer.close()?;
    Ok(())
}
