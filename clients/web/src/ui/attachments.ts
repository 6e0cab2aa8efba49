import { ImageMimeType, MAX_IMAGE_BASE64_CHARS, type ImageBlock } from '@shadowbox/protocol';
import { h, replaceChildren } from './dom.js';

/** Images a prompt may carry (the daemon's limit). */
const MAX_IMAGES = 8;

/**
 * Images pasted into the composer (PNG, JPEG, GIF or WebP, at most 5 MiB each), shown as removable badges
 * and sent with the next prompt. Its own component so the page controller only takes and gives them back.
 */
export class AttachmentsPanel {
  private images: ImageBlock[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly toast: (text: string, level: 'error') => void,
  ) {}

  /** Listens for pasted images on the prompt box (other pastes are left alone). */
  listen(prompt: HTMLTextAreaElement): void {
    prompt.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files ?? [])].filter((f) => ImageMimeType().safeParse(f.type).success);
      if (files.length === 0) return;
      e.preventDefault();
      void Promise.all(files.map((f) => this.add(f)));
    });
  }

  /** The images for the prompt being sent; the panel empties. */
  take(): ImageBlock[] {
    const out = this.images;
    this.images = [];
    this.draw();
    return out;
  }

  /** Puts back the images of a prompt that failed, unless new ones were pasted meanwhile. */
  restore(images: ImageBlock[]): void {
    if (images.length === 0 || this.images.length > 0) return;
    this.images = images;
    this.draw();
  }

  private async add(file: File): Promise<void> {
    const type = ImageMimeType().safeParse(file.type);
    if (!type.success) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const data = btoa(bin);
    if (data.length > MAX_IMAGE_BASE64_CHARS) return this.toast(`${file.name || 'the image'} is over 5 MiB`, 'error');
    const image = { mimeType: type.data, data, name: file.name || 'pasted image' };
    this.images = [...this.images, image].slice(0, MAX_IMAGES);
    this.draw();
  }

  private draw(): void {
    replaceChildren(
      this.root,
      ...this.images.map((a, i) =>
        h(
          'span',
          { className: 'badge attachment', 'data-testid': 'attachment' },
          `🖼 ${a.name ?? a.mimeType}`,
          h(
            'button',
            {
              'aria-label': 'remove image',
              onclick: () => {
                this.images = this.images.filter((_, k) => k !== i);
                this.draw();
              },
            },
            '×',
          ),
        ),
      ),
    );
  }
}
