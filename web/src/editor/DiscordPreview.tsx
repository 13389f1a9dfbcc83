import type { Draft, EmbedDraft } from './model';
import { Markdown } from './markdown';
import { renderSample, type SampleValues } from './templates';

/**
 * The message as Discord shows it (dark theme), with template variables replaced by sample
 * values. Images are framed, not loaded: the console's CSP allows its own origin only, and
 * loading any URL a task names would tell third parties who looks at the console.
 */
export function DiscordPreview({ draft, sample }: { draft: Draft; sample: SampleValues }) {
  const render = (text: string) => renderSample(text, sample);
  const name = render(draft.username) || 'Task Scheduler';
  const empty = !draft.content && draft.embeds.length === 0;
  return (
    <section className="discord" aria-label="Discord preview">
      <div className="dc-message">
        <div className="dc-avatar" aria-hidden="true" title={draft.avatarUrl || undefined}>
          {name.slice(0, 1).toUpperCase()}
        </div>
        <div className="dc-body">
          <div className="dc-header">
            <span className="dc-username">{name}</span>
            <span className="dc-bot">APP</span>
            <span className="dc-time">
              Today at{' '}
              {new Date(sample.time).toLocaleTimeString(undefined, {
                hour: '2-digit',
                minute: '2-digit',
              })}
            </span>
          </div>
          {empty && <p className="dc-empty">Write a message or add an embed to see it here.</p>}
          {draft.content && (
            <div className="dc-content">
              <Markdown text={render(draft.content)} />
            </div>
          )}
          {draft.embeds.map((embed, index) => (
            <EmbedPreview key={index} embed={embed} render={render} />
          ))}
        </div>
      </div>
    </section>
  );
}

function EmbedPreview({ embed, render }: { embed: EmbedDraft; render: (s: string) => string }) {
  const footer = render(embed.footerText);
  const timestamp =
    embed.timestamp && !Number.isNaN(Date.parse(render(embed.timestamp)))
      ? new Date(render(embed.timestamp)).toLocaleString(undefined, {
          dateStyle: 'short',
          timeStyle: 'short',
        })
      : '';
  return (
    <article
      className="dc-embed"
      style={{ borderLeftColor: embed.color || '#1e1f22' }}
      aria-label={embed.title ? `Embed: ${render(embed.title)}` : 'Embed'}
    >
      <div className="dc-embed-main">
        {embed.authorName && (
          <div className="dc-author">
            {embed.authorUrl ? (
              <a href={embed.authorUrl} target="_blank" rel="noreferrer noopener">
                {render(embed.authorName)}
              </a>
            ) : (
              render(embed.authorName)
            )}
          </div>
        )}
        {embed.title && (
          <div className="dc-title">
            {embed.url ? (
              <a href={embed.url} target="_blank" rel="noreferrer noopener">
                {render(embed.title)}
              </a>
            ) : (
              render(embed.title)
            )}
          </div>
        )}
        {embed.description && (
          <div className="dc-description">
            <Markdown text={render(embed.description)} />
          </div>
        )}
        {embed.fields.length > 0 && (
          <div className="dc-fields">
            {embed.fields.map((field, i) => (
              <div key={i} className={field.inline ? 'dc-field inline' : 'dc-field'}>
                <div className="dc-field-name">
                  <Markdown text={render(field.name)} />
                </div>
                <div className="dc-field-value">
                  <Markdown text={render(field.value)} />
                </div>
              </div>
            ))}
          </div>
        )}
        {embed.image && <ImageFrame url={embed.image} kind="Image" />}
        {(footer || timestamp) && (
          <div className="dc-footer">
            {footer}
            {footer && timestamp && ' • '}
            {timestamp}
          </div>
        )}
      </div>
      {embed.thumbnail && <ImageFrame url={embed.thumbnail} kind="Thumbnail" small />}
    </article>
  );
}

function ImageFrame({ url, kind, small }: { url: string; kind: string; small?: boolean }) {
  let where = url;
  try {
    where = new URL(url).host;
  } catch {
    // shown as typed
  }
  return (
    <div className={small ? 'dc-image dc-thumb' : 'dc-image'} title={url}>
      {kind} from {where}
    </div>
  );
}
