//! Shared by the captioning tests: MLGym-layout parquet files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use mlgym_tasks::captioning::data::Captioned;

/// A parquet file laid out like MLGym's: `file_name` and `anns` (list of {caption}).
pub fn write_parquet(path: &Path, rows: &[Captioned]) {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = "message schema { optional binary file_name (STRING); optional group anns (LIST) { repeated group list { optional group element { optional binary caption (STRING); } } } }";
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::builder().build()))
            .unwrap();
    let mut rg = w.next_row_group().unwrap();
    let names: Vec<ByteArray> = rows
        .iter()
        .map(|r| ByteArray::from(r.file_name.as_str()))
        .collect();
    let mut col = rg.next_column().unwrap().unwrap();
    col.typed::<ByteArrayType>()
        .write_batch(&names, Some(&vec![1; rows.len()]), None)
        .unwrap();
    col.close().unwrap();
    let caps: Vec<ByteArray> = rows
        .iter()
        .flat_map(|r| r.captions.iter().map(|c| ByteArray::from(c.as_str())))
        .collect();
    let rep: Vec<i16> = rows
        .iter()
        .flat_map(|r| (0..r.captions.len()).map(|i| i16::from(i > 0)))
        .collect();
    let mut col = rg.next_column().unwrap().unwrap();
    col.typed::<ByteArrayType>()
        .write_batch(&caps, Some(&vec![4; caps.len()]), Some(&rep))
        .unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

/// Colours of the synthetic images and the one caption each colour gets.
pub const COLOURS: [([u8; 3], &str); 4] = [
    ([220, 30, 30], "a red apple on a white plate"),
    ([30, 200, 40], "a green field with tall grass"),
    ([40, 60, 220], "the blue sea under a clear sky"),
    ([240, 220, 30], "a yellow taxi in the city street"),
];

/// Writes a solid-colour image (with a little seeded noise); the extension picks PNG or
/// JPEG.
fn write_image(path: &Path, rgb: [u8; 3], seed: u32) {
    let img = image::RgbImage::from_fn(40, 30, |x, y| {
        let n = ((x * 7 + y * 13 + seed * 31) % 9) as u8;
        image::Rgb([
            rgb[0].saturating_add(n),
            rgb[1].saturating_add(n),
            rgb[2].saturating_add(n),
        ])
    });
    img.save(path).unwrap();
}

/// MLGym's COCO layout in `dir`: `per_colour[split]` images of each colour, captioned
/// five times with the colour's caption; train images are PNG, the others JPEG.
/// Returns the test rows.
pub fn write_colour_source(dir: &Path, per_colour: [usize; 3]) -> Vec<Captioned> {
    let mut test = Vec::new();
    for (split, n) in ["train", "val", "test"].into_iter().zip(per_colour) {
        std::fs::create_dir_all(dir.join(split)).unwrap();
        let ext = if split == "train" { "png" } else { "jpg" };
        let mut rows = Vec::new();
        for k in 0..n {
            for (c, (rgb, caption)) in COLOURS.iter().enumerate() {
                let name = format!("{split}_{c}_{k:02}.{ext}");
                write_image(&dir.join(split).join(&name), *rgb, (k * 4 + c) as u32);
                rows.push(Captioned {
                    file_name: name,
                    captions: vec![caption.to_string(); 5],
                });
            }
        }
        write_parquet(&dir.join(format!("{split}_images.parquet")), &rows);
        if split == "test" {
            test = rows;
        }
    }
    test
}
