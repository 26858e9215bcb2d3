//! Colour grids on a figure (the decision boundary, the units of the network diagram): one
//! bitmap at the target's pixel size, interpolated between cell centres, for backends that blit
//! an image at once (the page's canvas); one rectangle per cell for the others (SVG), where a
//! bitmap would become one element per pixel.

use super::err;
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// An RGB image drawn at a pixel position of its area with one `blit_bitmap` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Bitmap {
    /// Top-left pixel in the area.
    pub pos: (i32, i32),
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// `3·w·h` bytes, row by row from the top.
    pub rgb: Vec<u8>,
}

impl<'a> PointCollection<'a, (i32, i32)> for &'a Bitmap {
    type Point = &'a (i32, i32);
    type IntoIter = std::iter::Once<&'a (i32, i32)>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.pos)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Bitmap {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut points: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        match points.next() {
            Some(p) if self.size.0 > 0 && self.size.1 > 0 => {
                backend.blit_bitmap(p, self.size, &self.rgb)
            }
            _ => Ok(()),
        }
    }
}

/// A `w × h` image of an `n × n` grid of colours (row by row from the bottom), each pixel
/// interpolated bilinearly between the four nearest cell centres (clamped at the edges).
pub fn upsample(cells: &[RGBColor], n: usize, w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![255u8; 3 * w as usize * h as usize];
    if n == 0 || cells.len() != n * n || w == 0 || h == 0 {
        return out;
    }
    let nf = n as f64;
    // Per column: the left cell and the weight of the right one (shared by every row).
    let cols: Vec<(usize, f64)> = (0..w)
        .map(|px| {
            let g = ((px as f64 + 0.5) / w as f64 * nf - 0.5).clamp(0.0, nf - 1.0);
            let i = (g.floor() as usize).min(n.saturating_sub(2));
            (i, if n > 1 { g - i as f64 } else { 0.0 })
        })
        .collect();
    for py in 0..h {
        // Image rows run down, grid rows up.
        let g = ((h - py) as f64 - 0.5) / h as f64 * nf - 0.5;
        let g = g.clamp(0.0, nf - 1.0);
        let j = (g.floor() as usize).min(n.saturating_sub(2));
        let ty = if n > 1 { g - j as f64 } else { 0.0 };
        let j1 = (j + 1).min(n - 1);
        let row = &mut out[3 * py as usize * w as usize..3 * (py as usize + 1) * w as usize];
        for (px, &(i, tx)) in cols.iter().enumerate() {
            let i1 = (i + 1).min(n - 1);
            let (a, b, c, d) = (
                cells[j * n + i],
                cells[j * n + i1],
                cells[j1 * n + i],
                cells[j1 * n + i1],
            );
            let mix = |a: u8, b: u8, c: u8, d: u8| {
                let lo = a as f64 + (b as f64 - a as f64) * tx;
                let hi = c as f64 + (d as f64 - c as f64) * tx;
                (lo + (hi - lo) * ty).round() as u8
            };
            row[3 * px] = mix(a.0, b.0, c.0, d.0);
            row[3 * px + 1] = mix(a.1, b.1, c.1, d.1);
            row[3 * px + 2] = mix(a.2, b.2, c.2, d.2);
        }
    }
    out
}

/// Fills the rectangle `(x, y, w, h)` (pixels of `area`) with an `n × n` grid of colours (row by
/// row from the bottom): as one interpolated bitmap when `raster`, else as `n²` rectangles that
/// overlap by a hair so that no seams show.
pub fn draw_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rect: (i32, i32, u32, u32),
    cells: &[RGBColor],
    n: usize,
    raster: bool,
) -> crate::Result<()> {
    let (x, y, w, h) = rect;
    if n == 0 || cells.len() != n * n || w == 0 || h == 0 {
        return Ok(());
    }
    if raster {
        return area
            .draw(&Bitmap {
                pos: (x, y),
                size: (w, h),
                rgb: upsample(cells, n, w, h),
            })
            .map_err(err);
    }
    let (cw, ch) = (w as f64 / n as f64, h as f64 / n as f64);
    for (k, c) in cells.iter().enumerate() {
        let (ix, iy) = ((k % n) as f64, (n - 1 - k / n) as f64);
        let x0 = x + (ix * cw).floor() as i32;
        let y0 = y + (iy * ch).floor() as i32;
        let x1 = x + ((ix + 1.0) * cw).ceil() as i32;
        let y1 = y + ((iy + 1.0) * ch).ceil() as i32;
        area.draw(&Rectangle::new([(x0, y0), (x1, y1)], c.filled()))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_keeps_cell_centres_and_orientation() {
        // 2 × 2: bottom row red, green; top row blue, white.
        let cells = [
            RGBColor(255, 0, 0),
            RGBColor(0, 255, 0),
            RGBColor(0, 0, 255),
            RGBColor(255, 255, 255),
        ];
        let img = upsample(&cells, 2, 4, 4);
        let px = |x: usize, y: usize| {
            (
                img[3 * (y * 4 + x)],
                img[3 * (y * 4 + x) + 1],
                img[3 * (y * 4 + x) + 2],
            )
        };
        // The bottom-left pixel is nearest the red centre, the top-right the white one.
        assert_eq!(px(0, 3), (255, 0, 0));
        assert_eq!(px(3, 0), (255, 255, 255));
        assert_eq!(px(0, 0), (0, 0, 255));
        assert_eq!(px(3, 3), (0, 255, 0));
        // Halfway between red and green on the bottom row: an even mix.
        let mid = upsample(&cells, 2, 2, 2);
        assert_eq!(mid.len(), 12);
    }
}
