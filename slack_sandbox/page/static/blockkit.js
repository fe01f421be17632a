/* Block Kit, rendered close enough to Slack to use: the blocks Tamio sends (elements in elements.js).
 *
 *   const surface = {key, ref, state: {}, errors: {}, act(action, node), suggest(blockId, actionId, text)};
 *   pane.appendChild(BlockKit.render(message.blocks, surface, ctx));
 *
 * Blocks: header, section (text, fields, accessory), context, divider, image, actions, input (label,
 * optional, hint, the field error from ``surface.errors``), rich_text (as text). ``missingRequired``
 * is Slack's own check before a modal is submitted.
 */
(function () {
  "use strict";
  const { el, plain } = window.Mrkdwn;
  const { element, text, imageSource, stateOf, nextId, STATEFUL } = window.BlockKitElements;

  // -- blocks ------------------------------------------------------------------------------------

  function section(block, blockId, surface, ctx) {
    const node = el("div", "bk-section");
    const main = el("div", "bk-section-main");
    if (block.text) main.appendChild(text(block.text, ctx, "bk-section-text"));
    if (Array.isArray(block.fields) && block.fields.length) {
      const grid = el("div", "bk-fields");
      block.fields.forEach((field) => grid.appendChild(text(field, ctx, "bk-field")));
      main.appendChild(grid);
    }
    node.appendChild(main);
    if (block.accessory) {
      const side = el("div", "bk-accessory bk-accessory-" + block.accessory.type);
      side.appendChild(element(block.accessory, blockId, surface, ctx, false));
      node.appendChild(side);
    }
    return node;
  }

  function image(block) {
    const figure = el("figure", "bk-image");
    if (block.title) figure.appendChild(el("figcaption", "", plain(block.title)));
    const img = el("img");
    const src = imageSource(block);
    if (src) img.src = src;
    img.alt = block.alt_text || "";
    figure.appendChild(img);
    return figure;
  }

  function input(block, blockId, surface, ctx) {
    const node = el("div", "bk-input-block");
    node.dataset.blockId = blockId;
    const label = el("label", "bk-label", plain(block.label));
    if (block.optional) label.appendChild(el("span", "bk-optional", " (optional)"));
    node.appendChild(label);
    const control = element(block.element || {}, blockId, surface, ctx, !block.dispatch_action);
    const focusable = control.matches("input,select,textarea") ? control : control.querySelector("input,select,textarea");
    if (focusable) {
      focusable.id = "bk-field-" + nextId();
      label.htmlFor = focusable.id;
    }
    node.appendChild(control);
    const error = surface.errors && surface.errors[blockId];
    if (error) {
      node.classList.add("has-error");
      node.appendChild(el("div", "bk-error", "\u26A0 " + error));
    }
    if (block.hint) node.appendChild(el("div", "bk-hint", plain(block.hint)));
    return node;
  }

  function richText(block, ctx) {
    const node = el("div", "bk-rich-text");
    const walk = (items, parent) => {
      for (const item of items || []) {
        if (item.type === "text") {
          const span = el(item.style && item.style.code ? "code" : "span", "", item.text || "");
          if (item.style && item.style.bold) span.style.fontWeight = "700";
          if (item.style && item.style.italic) span.style.fontStyle = "italic";
          parent.appendChild(span);
        } else if (item.type === "link") {
          const a = el("a", "link", item.text || item.url);
          if (/^https?:/i.test(item.url || "")) a.setAttribute("href", item.url);
          parent.appendChild(a);
        } else if (item.type === "user") parent.appendChild(el("span", "mention", "@" + ((ctx.users || {})[item.user_id] || item.user_id)));
        else if (item.type === "emoji") parent.appendChild(document.createTextNode(window.Mrkdwn.emojify(":" + item.name + ":")));
        else if (item.elements) {
          const tag = item.type === "rich_text_preformatted" ? "pre" : item.type === "rich_text_quote" ? "blockquote" : "div";
          const child = el(tag, "");
          walk(item.elements, child);
          parent.appendChild(child);
        }
      }
    };
    walk(block.elements, node);
    return node;
  }

  function block(block, index, surface, ctx) {
    const blockId = block.block_id || surface.key + ":" + index;
    let node;
    switch (block.type) {
      case "header": node = el("div", "bk-header", plain(block.text)); break;
      case "section": node = section(block, blockId, surface, ctx); break;
      case "divider": node = el("hr", "bk-divider"); break;
      case "image": node = image(block); break;
      case "context": {
        node = el("div", "bk-context");
        for (const item of block.elements || []) {
          node.appendChild(item.type === "image" ? element(item, blockId, surface, ctx, true) : text(item, ctx, "bk-context-text"));
        }
        break;
      }
      case "actions": {
        node = el("div", "bk-actions");
        for (const item of block.elements || []) node.appendChild(element(item, blockId, surface, ctx, false));
        break;
      }
      case "input": node = input(block, blockId, surface, ctx); break;
      case "rich_text": node = richText(block, ctx); break;
      default: node = el("div", "bk-unsupported", "[a " + block.type + " block, which the sandbox does not draw]");
    }
    node.classList.add("bk-block");
    node.dataset.blockType = block.type || "";
    return node;
  }

  function render(blocks, surface, ctx) {
    const root = el("div", "bk-blocks");
    (blocks || []).forEach((item, index) => root.appendChild(block(item, index, surface, ctx)));
    return root;
  }

  /** The input blocks a submission needs filled in (Slack checks these before sending). */
  function missingRequired(blocks, surface) {
    const missing = {};
    (blocks || []).forEach((item, index) => {
      if (item.type !== "input" || item.optional || !item.element) return;
      const blockId = item.block_id || surface.key + ":" + index;
      const value = stateOf(surface, blockId, item.element);
      if (!value) return;
      const key = STATEFUL[item.element.type];
      const filled = Array.isArray(value[key]) ? value[key].length > 0 : value[key] !== null && value[key] !== "";
      if (!filled) missing[blockId] = "Please complete this required field.";
    });
    return missing;
  }

  window.BlockKit = { render, text, missingRequired, imageSource };
})();
