/**
 * Linked, zoomable heatmaps. Every map of the panel shows the same window of the plane: wheel or
 * the buttons zoom (around the cursor), dragging pans, a double click fits; the crosshair sits on
 * the same pixel in all of them. Each data pixel is a solid square (nearest neighbour, no
 * smoothing), and markers are drawn in screen space so that they stay visible at any zoom.
 */
import { paintSource, type Marker, type PlaneImage } from '../shared/heatmap';

export type MapImage = PlaneImage;

/** The window of the plane shown, in data pixels: left, top, and its width (height follows the aspect). */
export interface Viewport {
  x0: number;
  y0: number;
  span: number;
}

export interface MarkerColors {
  positive: string;
  peak: string;
  selected: string;
  offsetTarget: string;
  offsetPred: string;
}

/** Extra kinds drawn by the linked maps: the selected object and offset arrows. */
export type MapMarker =
  | Marker
  | { kind: 'selected-corner'; x: number; y: number; label?: string }
  | { kind: 'selected-box'; x: number; y: number; x2: number; y2: number }
  | { kind: 'arrow'; x: number; y: number; dx: number; dy: number; role: 'target' | 'pred' };

interface MapEntry {
  canvas: HTMLCanvasElement;
  source: HTMLCanvasElement;
  markers: MapMarker[];
}

export interface LinkedMapEvents {
  /** The cursor is over data pixel (x, y) of the map `id` (undefined: it left the maps). */
  hover(id: string | undefined, x: number, y: number, timeStamp: number): void;
  /** A click without drag on a data pixel; `radius` is how far a marker reaches, in data pixels. */
  click(id: string, x: number, y: number, radius: number, e: MouseEvent): void;
  /** A right click: the pixel's numpy index. */
  context(id: string, x: number, y: number, e: MouseEvent): void;
  /** The viewport changed (zoom, pan, fit). */
  viewChanged(vp: Viewport): void;
}

const MIN_SPAN = 4;

export class LinkedMaps {
  private readonly maps = new Map<string, MapEntry>();
  private width = 0;
  private height = 0;
  /** CSS pixels of a map's width. */
  private cssWidth = 320;
  vp: Viewport = { x0: 0, y0: 0, span: 1 };
  cursor: { x: number; y: number } | undefined;
  private drag: { x: number; y: number; vp: Viewport; moved: boolean } | undefined;

  constructor(
    private readonly colors: () => MarkerColors,
    private readonly events: LinkedMapEvents,
  ) {}

  /** Forgets the maps (a new result rebuilt the section): the next plane is shown whole. */
  reset(): void {
    this.maps.clear();
    this.width = 0;
    this.height = 0;
    this.cursor = undefined;
  }

  get zoom(): number {
    return Math.max(this.width, 1) / this.vp.span;
  }

  /** Data size of the planes; a new size fits the view. */
  setSize(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.fit(false);
  }

  /** Display width of each map in CSS pixels (the panel's width shared by the columns). */
  setCssWidth(w: number): void {
    const width = Math.max(120, Math.round(w));
    // Called on every resize of the page (its height grows as sections render): only a new width redraws.
    if (width === this.cssWidth) return;
    this.cssWidth = width;
    for (const m of this.maps.values()) this.layout(m.canvas);
    this.drawAll();
  }

  private layout(canvas: HTMLCanvasElement): void {
    const h = (this.cssWidth * this.height) / Math.max(1, this.width);
    canvas.style.width = `${this.cssWidth}px`;
    canvas.style.height = `${h}px`;
    const dpr = window.devicePixelRatio || 1;
    // Assigning a canvas's size reallocates it even when unchanged.
    const [cw, ch] = [Math.round(this.cssWidth * dpr), Math.round(h * dpr)];
    if (canvas.width !== cw) canvas.width = cw;
    if (canvas.height !== ch) canvas.height = ch;
  }

  /** Registers (or updates) a map: its coloured plane and markers. Draws it. */
  set(id: string, canvas: HTMLCanvasElement, img: MapImage, markers: MapMarker[]): void {
    let m = this.maps.get(id);
    if (!m || m.canvas !== canvas) {
      m = { canvas, source: document.createElement('canvas'), markers };
      this.maps.set(id, m);
      this.listen(id, canvas);
    }
    paintSource(img, m.source);
    m.markers = markers;
    this.layout(canvas);
    this.draw(m);
  }

  setMarkers(id: string, markers: MapMarker[]): void {
    const m = this.maps.get(id);
    if (!m) return;
    m.markers = markers;
    this.draw(m);
  }

  drawAll(): void {
    for (const m of this.maps.values()) this.draw(m);
  }

  fit(notify = true): void {
    this.vp = { x0: 0, y0: 0, span: Math.max(1, this.width) };
    if (notify) this.changed();
  }

  /** Zooms by `factor` (>1: in) keeping data point (cx, cy) under the same screen point. */
  zoomBy(factor: number, cx = this.vp.x0 + this.vp.span / 2, cy = this.vp.y0 + this.spanY() / 2): void {
    const old = this.vp;
    const span = Math.min(this.width, Math.max(Math.min(MIN_SPAN, this.width), old.span / factor));
    const k = span / old.span;
    this.vp = this.clamp({ span, x0: cx - (cx - old.x0) * k, y0: cy - (cy - old.y0) * k });
    this.changed();
  }

  /** Centres the view on a data pixel, zooming in to `span` pixels if the view is wider. */
  centerOn(x: number, y: number, span = Math.min(this.vp.span, Math.max(MIN_SPAN, Math.round(this.width / 4)))): void {
    if (!this.width || !this.height) return;
    const s = Math.min(this.width, span);
    this.vp = this.clamp({ span: s, x0: x + 0.5 - s / 2, y0: y + 0.5 - (s * this.height) / this.width / 2 });
    this.changed();
  }

  private spanY(vp = this.vp): number {
    return (vp.span * this.height) / Math.max(1, this.width);
  }

  private clamp(vp: Viewport): Viewport {
    const sy = this.spanY(vp);
    return {
      span: vp.span,
      x0: Math.min(Math.max(0, vp.x0), Math.max(0, this.width - vp.span)),
      y0: Math.min(Math.max(0, vp.y0), Math.max(0, this.height - sy)),
    };
  }

  private changed(): void {
    this.drawAll();
    this.events.viewChanged(this.vp);
  }

  /** Data coordinates (fractional) of a point of the canvas. */
  private toData(canvas: HTMLCanvasElement, offsetX: number, offsetY: number): { fx: number; fy: number } {
    const w = canvas.clientWidth || this.cssWidth;
    const h = canvas.clientHeight || (this.cssWidth * this.height) / Math.max(1, this.width);
    return { fx: this.vp.x0 + (offsetX / w) * this.vp.span, fy: this.vp.y0 + (offsetY / h) * this.spanY() };
  }

  private listen(id: string, canvas: HTMLCanvasElement): void {
    canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const { fx, fy } = this.toData(canvas, e.offsetX, e.offsetY);
        this.zoomBy(e.deltaY < 0 ? 1.25 : 1 / 1.25, fx, fy);
      },
      { passive: false },
    );
    canvas.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      this.drag = { x: e.clientX, y: e.clientY, vp: this.vp, moved: false };
    });
    canvas.addEventListener('mousemove', (e) => {
      const d = this.drag;
      if (d && e.buttons & 1) {
        const dx = e.clientX - d.x;
        const dy = e.clientY - d.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) d.moved = true;
        if (d.moved) {
          const perCss = d.vp.span / (canvas.clientWidth || this.cssWidth);
          this.vp = this.clamp({ span: d.vp.span, x0: d.vp.x0 - dx * perCss, y0: d.vp.y0 - dy * perCss });
          this.changed();
          canvas.style.cursor = 'grabbing';
        }
      }
      const { fx, fy } = this.toData(canvas, e.offsetX, e.offsetY);
      const x = Math.floor(fx);
      const y = Math.floor(fy);
      if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
      if (!this.cursor || this.cursor.x !== x || this.cursor.y !== y) {
        this.cursor = { x, y };
        this.drawAll();
      }
      this.events.hover(id, x, y, e.timeStamp);
    });
    canvas.addEventListener('mouseup', (e) => {
      const d = this.drag;
      this.drag = undefined;
      canvas.style.cursor = '';
      if (!d || d.moved || e.button !== 0) return;
      const { fx, fy } = this.toData(canvas, e.offsetX, e.offsetY);
      const perCss = this.vp.span / (canvas.clientWidth || this.cssWidth);
      this.events.click(id, Math.floor(fx), Math.floor(fy), Math.max(0.75, 8 * perCss), e);
    });
    canvas.addEventListener('mouseleave', () => {
      this.drag = undefined;
      canvas.style.cursor = '';
    });
    canvas.addEventListener('dblclick', (e) => {
      e.preventDefault();
      this.fit();
    });
    canvas.addEventListener('contextmenu', (e) => {
      const { fx, fy } = this.toData(canvas, e.offsetX, e.offsetY);
      const x = Math.floor(fx);
      const y = Math.floor(fy);
      if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
      e.preventDefault();
      this.events.context(id, x, y, e);
    });
  }

  /** Clears the crosshair (the plane changed: the old pixel means nothing). */
  clearCursor(): void {
    if (!this.cursor) return;
    this.cursor = undefined;
    this.drawAll();
  }

  private draw(m: MapEntry): void {
    drawView(m.canvas, m.source, this.vp, this.width, this.height, m.markers, this.colors(), this.cursor);
  }

  /** Draws a map into a context of the given size (the figure export), without the crosshair. */
  paintInto(id: string, ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): boolean {
    const m = this.maps.get(id);
    if (!m) return false;
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    drawView(c, m.source, this.vp, this.width, this.height, m.markers, this.colors(), undefined);
    ctx.drawImage(c, x, y);
    return true;
  }
}

function drawView(canvas: HTMLCanvasElement, source: HTMLCanvasElement, vp: Viewport, W: number, H: number, markers: MapMarker[], colors: MarkerColors, cursor: { x: number; y: number } | undefined): void {
  const ctx = canvas.getContext('2d')!;
  const k = canvas.width / vp.span;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // Whole data pixels of the window, each scaled to a solid square.
  const sx = Math.floor(vp.x0);
  const sy = Math.floor(vp.y0);
  const sw = Math.min(W, Math.ceil(vp.x0 + vp.span)) - sx;
  const sh = Math.min(H, Math.ceil(vp.y0 + (vp.span * H) / W)) - sy;
  ctx.drawImage(source, sx, sy, sw, sh, (sx - vp.x0) * k, (sy - vp.y0) * k, sw * k, sh * k);
  const X = (x: number) => (x - vp.x0) * k;
  const Y = (y: number) => (y - vp.y0) * k;
  const dpr = window.devicePixelRatio || 1;
  // Outline first, colour on top: visible on any colormap.
  const stroke = (color: string, width: number, path: () => void, dash: number[] = []) => {
    ctx.setLineDash(dash);
    ctx.lineWidth = width + 2 * dpr;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.75)';
    ctx.beginPath();
    path();
    ctx.stroke();
    ctx.lineWidth = width;
    ctx.strokeStyle = color;
    ctx.beginPath();
    path();
    ctx.stroke();
    ctx.setLineDash([]);
  };
  const lw = Math.max(1.5 * dpr, Math.min(4 * dpr, k / 6));
  for (const m of markers) {
    const cx = X(m.x + 0.5);
    const cy = Y(m.y + 0.5);
    const r = Math.max(5 * dpr, k * 0.9);
    switch (m.kind) {
      case 'positive':
        stroke(colors.positive, lw, () => ctx.arc(cx, cy, r, 0, 2 * Math.PI));
        break;
      case 'peak':
        stroke(colors.peak, lw, () => {
          ctx.moveTo(cx - r, cy);
          ctx.lineTo(cx + r, cy);
          ctx.moveTo(cx, cy - r);
          ctx.lineTo(cx, cy + r);
        });
        break;
      case 'focus': {
        const half = Math.max(6 * dpr, k * 1.6);
        stroke('#ff2bd6', Math.max(2 * dpr, lw), () => ctx.rect(cx - half, cy - half, 2 * half, 2 * half));
        break;
      }
      case 'target-box':
      case 'pred-box':
        stroke(m.kind === 'target-box' ? colors.positive : colors.peak, lw, () => ctx.rect(X(m.x), Y(m.y), X(m.x2 ?? m.x) - X(m.x), Y(m.y2 ?? m.y) - Y(m.y)), m.kind === 'pred-box' ? [6 * dpr, 4 * dpr] : []);
        break;
      case 'selected-corner': {
        const half = Math.max(7 * dpr, k * 1.2);
        stroke(colors.selected, Math.max(2.5 * dpr, lw), () => ctx.rect(cx - half, cy - half, 2 * half, 2 * half));
        if (m.label) {
          ctx.font = `${11 * dpr}px sans-serif`;
          ctx.fillStyle = colors.selected;
          ctx.fillText(m.label, cx + half + 2 * dpr, cy - half);
        }
        break;
      }
      case 'selected-box':
        stroke(colors.selected, Math.max(2 * dpr, lw * 0.8), () => ctx.rect(X(m.x), Y(m.y), X(m.x2) - X(m.x), Y(m.y2) - Y(m.y)), [8 * dpr, 5 * dpr]);
        break;
      case 'arrow': {
        // From the pixel's origin (the corner before its offset) to where the offset puts it.
        const x0 = X(m.x);
        const y0 = Y(m.y);
        const x1 = X(m.x + m.dx);
        const y1 = Y(m.y + m.dy);
        const len = Math.hypot(x1 - x0, y1 - y0);
        if (!(len >= 2 * dpr)) break;
        const a = Math.atan2(y1 - y0, x1 - x0);
        const head = Math.min(len / 2, 7 * dpr);
        stroke(m.role === 'target' ? colors.offsetTarget : colors.offsetPred, Math.max(1.5 * dpr, lw * 0.7), () => {
          ctx.moveTo(x0, y0);
          ctx.lineTo(x1, y1);
          ctx.moveTo(x1, y1);
          ctx.lineTo(x1 - head * Math.cos(a - 0.45), y1 - head * Math.sin(a - 0.45));
          ctx.moveTo(x1, y1);
          ctx.lineTo(x1 - head * Math.cos(a + 0.45), y1 - head * Math.sin(a + 0.45));
        });
        break;
      }
    }
  }
  if (cursor) {
    const x = X(cursor.x);
    const y = Y(cursor.y);
    ctx.setLineDash([]);
    ctx.lineWidth = dpr;
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.45)';
    ctx.beginPath();
    ctx.moveTo(0, y + k / 2);
    ctx.lineTo(canvas.width, y + k / 2);
    ctx.moveTo(x + k / 2, 0);
    ctx.lineTo(x + k / 2, canvas.height);
    ctx.stroke();
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = Math.max(1, dpr);
    ctx.strokeRect(x - 0.5 * dpr, y - 0.5 * dpr, Math.max(k, 3 * dpr) + dpr, Math.max(k, 3 * dpr) + dpr);
    ctx.strokeStyle = '#000000';
    ctx.strokeRect(x - 1.5 * dpr, y - 1.5 * dpr, Math.max(k, 3 * dpr) + 3 * dpr, Math.max(k, 3 * dpr) + 3 * dpr);
  }
}
