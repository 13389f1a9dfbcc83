import { ComposerField } from './ComposerField';
import { type EmbedDraft, embedText, LIMITS } from './model';

/** One embed of the composer; `errors` are the API's, keyed `payload.embeds.<n>.<field>`. */
export function EmbedEditor(props: {
  index: number;
  embed: EmbedDraft;
  onChange: (embed: EmbedDraft) => void;
  onRemove: () => void;
  errors: Record<string, string>;
}) {
  const { embed, index } = props;
  const at = `payload.embeds.${index}`;
  const err = (path: string) => props.errors[`${at}.${path}`];
  const set = (patch: Partial<EmbedDraft>) => props.onChange({ ...embed, ...patch });
  const n = index + 1;
  return (
    <fieldset className="embed-editor">
      <legend>Embed {n}</legend>
      <p className="muted small">{embedText(embed)} characters of text in this embed</p>
      {props.errors[at] && <div className="field-error">{props.errors[at]}</div>}
      <ComposerField
        label={`Embed ${n} title`}
        value={embed.title}
        onChange={(title) => set({ title })}
        max={LIMITS.title}
        error={err('title')}
      />
      <ComposerField
        label={`Embed ${n} description`}
        value={embed.description}
        onChange={(description) => set({ description })}
        max={LIMITS.description}
        multiline
        error={err('description')}
      />
      <div className="grid-2">
        <ComposerField
          label={`Embed ${n} URL`}
          type="url"
          value={embed.url}
          onChange={(url) => set({ url })}
          error={err('url')}
          hint="The title links here."
        />
        <div className="field">
          <div className="field-head">
            <label htmlFor={`embed-${index}-color`}>Embed {n} colour</label>
          </div>
          <div className="color-row">
            <input
              id={`embed-${index}-color`}
              type="color"
              value={embed.color || '#1e1f22'}
              onChange={(e) => set({ color: e.target.value })}
              aria-describedby={err('color') ? `embed-${index}-color-error` : undefined}
            />
            <span className="muted">{embed.color || 'none'}</span>
            {embed.color && (
              <button type="button" className="link-button" onClick={() => set({ color: '' })}>
                No colour
              </button>
            )}
          </div>
          {err('color') && (
            <div id={`embed-${index}-color-error`} className="field-error">
              {err('color')}
            </div>
          )}
        </div>
      </div>
      <div className="grid-3">
        <ComposerField
          label={`Embed ${n} author name`}
          value={embed.authorName}
          onChange={(authorName) => set({ authorName })}
          max={LIMITS.author}
          error={err('author.name') ?? err('author')}
        />
        <ComposerField
          label={`Embed ${n} author URL`}
          type="url"
          value={embed.authorUrl}
          onChange={(authorUrl) => set({ authorUrl })}
          error={err('author.url')}
        />
        <ComposerField
          label={`Embed ${n} author icon URL`}
          type="url"
          value={embed.authorIcon}
          onChange={(authorIcon) => set({ authorIcon })}
          error={err('author.icon_url')}
        />
      </div>

      <fieldset className="fields-editor">
        <legend>
          Embed {n} fields ({embed.fields.length}/{LIMITS.fields})
        </legend>
        {err('fields') && <div className="field-error">{err('fields')}</div>}
        {embed.fields.map((field, i) => {
          const setField = (patch: Partial<typeof field>) =>
            set({ fields: embed.fields.map((f, j) => (j === i ? { ...f, ...patch } : f)) });
          return (
            <div key={i} className="field-row">
              <ComposerField
                label={`Field ${i + 1} name`}
                value={field.name}
                onChange={(name) => setField({ name })}
                max={LIMITS.fieldName}
                error={err(`fields.${i}.name`)}
              />
              <ComposerField
                label={`Field ${i + 1} value`}
                value={field.value}
                onChange={(value) => setField({ value })}
                max={LIMITS.fieldValue}
                multiline
                error={err(`fields.${i}.value`)}
              />
              <div className="field-row-actions">
                <label className="check">
                  <input
                    type="checkbox"
                    checked={field.inline}
                    onChange={(e) => setField({ inline: e.target.checked })}
                  />
                  Inline
                </label>
                <button
                  type="button"
                  className="link-button"
                  onClick={() => set({ fields: embed.fields.filter((_, j) => j !== i) })}
                >
                  Remove field {i + 1}
                </button>
              </div>
            </div>
          );
        })}
        <button
          type="button"
          disabled={embed.fields.length >= LIMITS.fields}
          onClick={() => set({ fields: [...embed.fields, { name: '', value: '', inline: false }] })}
        >
          Add field to embed {n}
        </button>
      </fieldset>

      <div className="grid-2">
        <ComposerField
          label={`Embed ${n} image URL`}
          type="url"
          value={embed.image}
          onChange={(image) => set({ image })}
          error={err('image.url') ?? err('image')}
        />
        <ComposerField
          label={`Embed ${n} thumbnail URL`}
          type="url"
          value={embed.thumbnail}
          onChange={(thumbnail) => set({ thumbnail })}
          error={err('thumbnail.url') ?? err('thumbnail')}
        />
        <ComposerField
          label={`Embed ${n} footer`}
          value={embed.footerText}
          onChange={(footerText) => set({ footerText })}
          max={LIMITS.footer}
          error={err('footer.text') ?? err('footer')}
        />
        <ComposerField
          label={`Embed ${n} footer icon URL`}
          type="url"
          value={embed.footerIcon}
          onChange={(footerIcon) => set({ footerIcon })}
          error={err('footer.icon_url')}
        />
      </div>
      <div className="timestamp-row">
        <ComposerField
          label={`Embed ${n} timestamp`}
          value={embed.timestamp}
          onChange={(timestamp) => set({ timestamp })}
          error={err('timestamp')}
          placeholder="2026-12-01T09:30:00Z"
          hint="ISO 8601 date-time, shown in the footer in each reader's own time zone."
        />
        <button
          type="button"
          className="link-button"
          onClick={() => set({ timestamp: new Date().toISOString() })}
        >
          Use the current time
        </button>
      </div>
      <button type="button" className="danger" onClick={props.onRemove}>
        Remove embed {n}
      </button>
    </fieldset>
  );
}
