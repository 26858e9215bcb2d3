//! Figures as PNG (native only): plotters' bitmap backend draws into memory, [`TextBitmap`] adds
//! the text, [`encode_png`] writes the file with its resolution.
//!
//! The crate builds plotters without `ttf` (which needs fontconfig), and plotters' bitmap backend
//! cannot draw text without a font. [`TextBitmap`] wraps the bitmap backend and rasterizes text
//! itself with `ab_glyph` from two font files compiled into the binary: subsets of Noto Sans and
//! Noto Sans Math (SIL Open Font License 1.1, `assets/fonts/OFL.txt`), the second for the
//! mathematical operators the first lacks (`−`, `≤`, `∇`, …). A font size means the same as in
//! SVG and on the canvas: the em size in pixels.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::backend::BitMapBackend;
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, IntoDrawingArea};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::sync::OnceLock;

static SANS: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular-subset.ttf");
static MATH: &[u8] = include_bytes!("../../assets/fonts/NotoSansMath-Regular-subset.ttf");

struct Fonts {
    sans: FontRef<'static>,
    math: FontRef<'static>,
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        sans: FontRef::try_from_slice(SANS).expect("the committed Noto Sans subset parses"),
        math: FontRef::try_from_slice(MATH).expect("the committed Noto Sans Math subset parses"),
    })
}

/// One placed glyph: which font, which glyph, its pen position and scale.
struct Placed {
    font: &'static FontRef<'static>,
    id: GlyphId,
    x: f32,
    scale: PxScale,
}

/// Lays `text` out on one line at em size `size`: the glyphs, the width and the line height
/// (ascent − descent of the text font) and the ascent.
fn layout(text: &str, size: f64) -> (Vec<Placed>, f32, f32, f32) {
    let f = fonts();
    let scale_of = |font: &FontRef<'static>| {
        let upem = font.units_per_em().unwrap_or(1000.0);
        PxScale::from(size as f32 * font.height_unscaled() / upem)
    };
    let sans = f.sans.as_scaled(scale_of(&f.sans));
    let mut out = Vec::with_capacity(text.len());
    let mut x = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    for c in text.chars() {
        let (font, id) = match f.sans.glyph_id(c) {
            id if id.0 != 0 => (&f.sans, id),
            _ => match f.math.glyph_id(c) {
                id if id.0 != 0 => (&f.math, id),
                _ => (&f.sans, f.sans.glyph_id('?')),
            },
        };
        let scale = scale_of(font);
        let scaled = font.as_scaled(scale);
        if std::ptr::eq(font, &f.sans) {
            if let Some(p) = prev {
                x += sans.kern(p, id);
            }
            prev = Some(id);
        } else {
            prev = None;
        }
        out.push(Placed { font, id, x, scale });
        x += scaled.h_advance(id);
    }
    (out, x, sans.ascent() - sans.descent(), sans.ascent())
}

/// Plotters' bitmap backend with text.
pub struct TextBitmap<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> TextBitmap<'a> {
    /// Draws into `buf`, RGB, `w·h·3` bytes.
    ///
    /// Panics: a buffer of another length (the caller sizes it).
    pub fn new(buf: &'a mut [u8], (w, h): (u32, u32)) -> TextBitmap<'a> {
        TextBitmap {
            inner: BitMapBackend::with_buffer(buf, (w, h)),
        }
    }
}

type Err<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for TextBitmap<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Err<'a>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Err<'a>> {
        self.inner.present()
    }
    fn draw_pixel(&mut self, p: BackendCoord, c: BackendColor) -> Result<(), Err<'a>> {
        self.inner.draw_pixel(p, c)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        ul: BackendCoord,
        br: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_rect(ul, br, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), Err<'a>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), Err<'a>> {
        let (_, w, h, _) = layout(text, style.size());
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), Err<'a>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (glyphs, w, h, ascent) = layout(text, style.size());
        let (w, h) = (w.round() as i32, h.round() as i32);
        // The anchor, as plotters' own text drawing places it; then the rotation about `pos`.
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let trans = style.transform();
        for g in glyphs {
            let glyph =
                g.id.with_scale_and_position(g.scale, ab_glyph::point(g.x, ascent));
            let Some(outline) = g.font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            let mut pixels = vec![];
            outline.draw(|x, y, cov| {
                if cov > 0.0 {
                    pixels.push((b.min.x as i32 + x as i32, b.min.y as i32 + y as i32, cov));
                }
            });
            for (x, y, cov) in pixels {
                let (tx, ty) = trans.transform(x + dx, y + dy);
                let c = BackendColor {
                    alpha: color.alpha * f64::from(cov.min(1.0)),
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((pos.0 + tx, pos.1 + ty), c)?;
            }
        }
        Ok(())
    }
}

/// Draws with `draw` on a white `w × h` canvas and returns the RGB pixels (`w·h·3` bytes).
///
/// Errors: whatever `draw` returns.
pub fn render<E>(
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<TextBitmap<'_>, Shift>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let mut buf = vec![255u8; 3 * w as usize * h as usize];
    {
        let area = TextBitmap::new(&mut buf, (w, h)).into_drawing_area();
        draw(&area)?;
    }
    Ok(buf)
}

/// The RGB pixels as a PNG file, with its resolution (`dpi`) in the `pHYs` chunk, so that a
/// typesetter places a 1020-pixel figure at 300 dpi as 3.4 inches.
///
/// Errors: [`crate::Error::Plot`] from the encoder, or pixels that are not `w·h·3` bytes.
pub fn encode_png(rgb: &[u8], (w, h): (u32, u32), dpi: f64) -> crate::Result<Vec<u8>> {
    if rgb.len() != 3 * w as usize * h as usize {
        return Err(crate::Error::Plot(format!(
            "{} bytes are not a {w}×{h} RGB image",
            rgb.len()
        )));
    }
    let mut out = vec![];
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let per_metre = (dpi / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        let mut writer = enc.write_header().map_err(super::err)?;
        writer.write_image_data(rgb).map_err(super::err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::FontTransform;

    fn ink_box(rgb: &[u8], w: usize) -> (usize, (usize, usize, usize, usize)) {
        let (mut n, mut b) = (0, (usize::MAX, usize::MAX, 0, 0));
        for (i, p) in rgb.chunks(3).enumerate() {
            if p.iter().any(|&c| c < 128) {
                let (x, y) = (i % w, i / w);
                n += 1;
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
        (n, b)
    }

    #[test]
    fn text_is_drawn_where_and_as_large_as_asked() {
        let (w, h) = (1000u32, 300u32);
        let text = "σ_min(DDᵀ) ≤ C·e^(−2s/N)";
        let draw = |size: f64, rotate: bool| {
            render((w, h), |area| {
                let font = ("sans-serif", size).into_font().color(&BLACK);
                let font = if rotate {
                    font.transform(FontTransform::Rotate270)
                } else {
                    font
                };
                area.draw(&Text::new(text, (20, if rotate { 280 } else { 150 }), font))
            })
            .unwrap()
        };
        let (n, (x0, y0, x1, y1)) = ink_box(&draw(20.0, false), w as usize);
        assert!(n > 300, "{n} dark pixels");
        // Starts at the anchor, one line of 20-pixel text: the em box below the top.
        assert!((20..=23).contains(&x0), "{x0}");
        assert!(y0 >= 150 && y1 <= 150 + 28, "{y0}..{y1}");
        // 24 characters of about half an em each.
        assert!((160..=330).contains(&(x1 - x0)), "width {}", x1 - x0);
        // Twice the size, about twice the width.
        let (_, (a0, _, a1, _)) = ink_box(&draw(40.0, false), w as usize);
        let ratio = (a1 - a0) as f64 / (x1 - x0) as f64;
        assert!((1.8..=2.2).contains(&ratio), "{ratio}");
        // Rotated by 270°: the text runs upwards from the anchor, as on a y axis.
        let (_, (r0, s0, r1, s1)) = ink_box(&draw(20.0, true), w as usize);
        assert!(
            r1 - r0 < 30 && s1 <= 280 && s1 - s0 > 150,
            "{r0},{s0}..{r1},{s1}"
        );
        // Every character has a glyph: none falls back to `?`.
        let (glyphs, _, _, _) = layout(text, 20.0);
        let q = fonts().sans.glyph_id('?');
        assert!(
            glyphs.iter().all(|g| g.id != q),
            "a character without a glyph"
        );
    }

    #[test]
    fn png_carries_its_resolution() {
        let rgb = vec![255u8; 3 * 8 * 4];
        let bytes = encode_png(&rgb, (8, 4), 300.0).unwrap();
        let mut r = png::Decoder::new(&bytes[..]).read_info().unwrap();
        let dims = r.info().pixel_dims.unwrap();
        assert_eq!(dims.xppu, 11811); // 300 / 0.0254
        let mut buf = vec![0; r.output_buffer_size()];
        r.next_frame(&mut buf).unwrap();
        assert_eq!(buf, rgb);
        assert!(encode_png(&rgb, (9, 4), 300.0).is_err());
    }
}
