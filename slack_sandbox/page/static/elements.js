/* Block Kit's interactive elements and text objects, for blockkit.js.
 *
 *   BlockKitElements.element(button, "card_actions:act_1", surface, ctx, false) -> <button>
 *
 * Elements: button (primary, danger, url, confirm), static_select, external_select (options from
 * ``surface.suggest``, i.e. the app's block_suggestion answer), conversations_select and
 * channels_select (the workspace's channels), radio_buttons, checkboxes, datepicker,
 * plain_text_input, overflow, image. Each stateful element keeps its value in
 * ``surface.state`` as Slack's ``state.values`` has it ({block_id: {action_id: {type, ...}}}), and one
 * outside an input block calls ``surface.act`` with the ``block_actions`` action, as Slack does.
 * Every text is set with textContent.
 */
(function () {
  "use strict";
  const { el, plain } = window.Mrkdwn;
  const STATEFUL = {
    static_select: "selected_option", external_select: "selected_option", radio_buttons: "selected_option",
    users_select: "selected_user", conversations_select: "selected_conversation", channels_select: "selected_channel",
    checkboxes: "selected_options", datepicker: "selected_date", timepicker: "selected_time",
    plain_text_input: "value", number_input: "value", email_text_input: "value", url_text_input: "value",
  };
  let serial = 0;
  const nextId = () => ++serial;

  function text(object, ctx, className) {
    if (!object) return el("span", className || "");
    if (object.type === "mrkdwn") {
      const node = window.Mrkdwn.render(object.text, ctx);
      if (className) node.classList.add(className);
      return node;
    }
    return el("span", "plain " + (className || ""), plain(object));
  }

  function imageSource(object) {
    const file = object.slack_file || object.image_file;
    if (file && typeof file.id === "string") return "/sandbox/files/" + encodeURIComponent(file.id);
    if (file && typeof file.url === "string") {
      const match = /\/files\/([A-Za-z0-9]+)/.exec(file.url);
      if (match) return "/sandbox/files/" + match[1];
    }
    const url = object.image_url;
    if (typeof url === "string" && /^https?:\/\//i.test(url)) return url;
    return null;
  }

  function initial(element) {
    const key = STATEFUL[element.type];
    const value = { type: element.type };
    if (key === "selected_option") value.selected_option = element.initial_option || null;
    else if (key === "selected_options") value.selected_options = element.initial_options || [];
    else if (key === "selected_date") value.selected_date = element.initial_date || null;
    else if (key === "selected_time") value.selected_time = element.initial_time || null;
    else if (key === "value") value.value = element.initial_value !== undefined ? String(element.initial_value) : null;
    else value[key] = element["initial_" + key.replace("selected_", "")] || null;
    return value;
  }

  function stateOf(surface, blockId, element) {
    if (!STATEFUL[element.type] || !element.action_id) return null;
    const block = (surface.state[blockId] = surface.state[blockId] || {});
    if (!(element.action_id in block)) block[element.action_id] = initial(element);
    return block[element.action_id];
  }

  function sameOption(a, b) {
    return !!a && !!b && a.value === b.value;
  }

  // -- elements ----------------------------------------------------------------------------------

  function button(element, blockId, surface, ctx, dispatch) {
    const node = el("button", "bk-button");
    node.type = "button";
    if (element.style === "primary" || element.style === "danger") node.classList.add(element.style);
    node.textContent = plain(element.text);
    node.dataset.actionId = element.action_id || "";
    node.addEventListener("click", async () => {
      if (element.confirm && !(await ctx.confirm(element.confirm))) return;
      if (typeof element.url === "string") {
        if (window.Mrkdwn.isAppLink(element.url)) ctx.onAppLink(element.url);
        else if (/^https?:/i.test(element.url)) window.open(element.url, "_blank", "noopener");
      }
      const action = { type: "button", action_id: element.action_id, block_id: blockId, text: element.text };
      if (element.value !== undefined) action.value = element.value;
      if (element.style) action.style = element.style;
      if (element.url) action.url = element.url;
      dispatch(action, node);
    });
    return node;
  }

  function optionsOf(element) {
    if (Array.isArray(element.option_groups)) return element.option_groups.flatMap((g) => g.options || []);
    return element.options || [];
  }

  function staticSelect(element, blockId, surface, ctx, dispatch) {
    const value = stateOf(surface, blockId, element);
    const select = el("select", "bk-select");
    select.dataset.actionId = element.action_id || "";
    const placeholder = el("option", "", plain(element.placeholder) || "Select an item");
    placeholder.value = "";
    placeholder.disabled = true;
    select.appendChild(placeholder);
    const add = (parent, option) => {
      const node = el("option", "", plain(option.text));
      node.value = option.value;
      node.selected = sameOption(option, value.selected_option);
      parent.appendChild(node);
    };
    if (Array.isArray(element.option_groups)) {
      for (const group of element.option_groups) {
        const node = el("optgroup");
        node.label = plain(group.label);
        (group.options || []).forEach((option) => add(node, option));
        select.appendChild(node);
      }
    } else {
      optionsOf(element).forEach((option) => add(select, option));
    }
    if (!value.selected_option) placeholder.selected = true;
    select.addEventListener("change", () => {
      const option = optionsOf(element).find((o) => o.value === select.value) || null;
      value.selected_option = option;
      dispatch({ type: element.type, action_id: element.action_id, block_id: blockId, selected_option: option }, select);
    });
    return select;
  }

  function externalSelect(element, blockId, surface, ctx, dispatch) {
    const value = stateOf(surface, blockId, element);
    const box = el("div", "bk-external");
    const input = el("input", "bk-input-text");
    input.type = "text";
    input.placeholder = plain(element.placeholder) || "Type to search";
    input.dataset.actionId = element.action_id || "";
    input.setAttribute("role", "combobox");
    input.value = value.selected_option ? plain(value.selected_option.text) : "";
    const list = el("ul", "bk-suggestions");
    list.hidden = true;
    list.setAttribute("role", "listbox");
    box.append(input, list);
    const minimum = Number.isInteger(element.min_query_length) ? element.min_query_length : 3;
    let asked = 0;
    let timer = null;
    const choose = (option) => {
      value.selected_option = option;
      input.value = plain(option.text);
      list.hidden = true;
      dispatch({ type: element.type, action_id: element.action_id, block_id: blockId, selected_option: option }, input);
    };
    const ask = async () => {
      const typed = input.value;
      if (typed.length < minimum || !surface.suggest) { list.hidden = true; return; }
      const mine = ++asked;
      const answer = await surface.suggest(blockId, element.action_id, typed);
      if (mine !== asked) return;
      const options = (answer.options || []).concat((answer.option_groups || []).flatMap((g) => g.options || []));
      list.replaceChildren();
      if (!options.length) list.appendChild(el("li", "bk-suggestion empty", "No matches"));
      for (const option of options) {
        const item = el("li", "bk-suggestion");
        item.setAttribute("role", "option");
        item.appendChild(el("span", "", plain(option.text)));
        if (option.description) item.appendChild(el("small", "", plain(option.description)));
        item.addEventListener("mousedown", (event) => { event.preventDefault(); choose(option); });
        list.appendChild(item);
      }
      list.hidden = false;
    };
    input.addEventListener("input", () => {
      value.selected_option = null;
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("focus", () => { clearTimeout(timer); timer = setTimeout(ask, 0); });
    input.addEventListener("blur", () => {
      setTimeout(() => {
        list.hidden = true;
        if (!value.selected_option) input.value = "";
      }, 150);
    });
    return box;
  }

  function choices(element, blockId, surface, ctx, dispatch, multiple) {
    const value = stateOf(surface, blockId, element);
    const group = el("div", multiple ? "bk-checkboxes" : "bk-radios");
    group.setAttribute("role", multiple ? "group" : "radiogroup");
    const name = "bk-" + nextId();
    for (const option of element.options || []) {
      const label = el("label", "bk-choice");
      const input = el("input");
      input.type = multiple ? "checkbox" : "radio";
      input.name = name;
      input.value = option.value;
      input.checked = multiple
        ? (value.selected_options || []).some((o) => sameOption(o, option))
        : sameOption(option, value.selected_option);
      const words = el("span", "bk-choice-text");
      words.appendChild(text(option.text, ctx));
      if (option.description) words.appendChild(text(option.description, ctx, "bk-choice-description"));
      label.append(input, words);
      input.addEventListener("change", () => {
        if (multiple) {
          const picked = (value.selected_options || []).filter((o) => !sameOption(o, option));
          if (input.checked) picked.push(option);
          value.selected_options = picked;
          dispatch({ type: element.type, action_id: element.action_id, block_id: blockId, selected_options: picked }, group);
        } else {
          value.selected_option = option;
          dispatch({ type: element.type, action_id: element.action_id, block_id: blockId, selected_option: option }, group);
        }
      });
      group.appendChild(label);
    }
    return group;
  }

  function datepicker(element, blockId, surface, ctx, dispatch) {
    const value = stateOf(surface, blockId, element);
    const input = el("input", "bk-date");
    input.type = "date";
    input.dataset.actionId = element.action_id || "";
    input.value = value.selected_date || "";
    input.addEventListener("change", () => {
      value.selected_date = input.value || null;
      dispatch({ type: "datepicker", action_id: element.action_id, block_id: blockId, selected_date: value.selected_date,
        initial_date: element.initial_date }, input);
    });
    return input;
  }

  function textInput(element, blockId, surface) {
    const value = stateOf(surface, blockId, element);
    const input = element.multiline ? el("textarea", "bk-input-text") : el("input", "bk-input-text");
    if (!element.multiline) input.type = element.type === "number_input" ? "text" : "text";
    input.dataset.actionId = element.action_id || "";
    if (element.placeholder) input.placeholder = plain(element.placeholder);
    if (element.max_length) input.maxLength = element.max_length;
    input.value = value.value || "";
    input.addEventListener("input", () => { value.value = input.value === "" ? null : input.value; });
    return input;
  }

  function overflow(element, blockId, surface, ctx, dispatch) {
    const select = el("select", "bk-overflow");
    select.setAttribute("aria-label", "More actions");
    const first = el("option", "", "\u22EF");
    first.value = "";
    select.appendChild(first);
    for (const option of element.options || []) {
      const node = el("option", "", plain(option.text));
      node.value = option.value;
      select.appendChild(node);
    }
    select.addEventListener("change", () => {
      const option = (element.options || []).find((o) => o.value === select.value);
      select.value = "";
      if (option) dispatch({ type: "overflow", action_id: element.action_id, block_id: blockId, selected_option: option }, select);
    });
    return select;
  }

  // conversations_select / channels_select: the workspace's channels by name (Slack's own picker lists them).
  function conversationSelect(element, blockId, surface, ctx, dispatch) {
    const value = stateOf(surface, blockId, element);
    const key = STATEFUL[element.type];
    const select = el("select", "bk-select");
    select.dataset.actionId = element.action_id || "";
    const placeholder = el("option", "", plain(element.placeholder) || "Select a channel");
    placeholder.value = "";
    select.appendChild(placeholder);
    for (const [id, name] of Object.entries(ctx.channels || {})) {
      const node = el("option", "", "# " + name);
      node.value = id;
      node.selected = value[key] === id;
      select.appendChild(node);
    }
    if (!value[key]) placeholder.selected = true;
    select.addEventListener("change", () => {
      value[key] = select.value || null;
      dispatch({ type: element.type, action_id: element.action_id, block_id: blockId, [key]: value[key] }, select);
    });
    return select;
  }

  function element(element, blockId, surface, ctx, inInput) {
    const dispatch = (action, node) => { if (!inInput) surface.act(action, node); };
    switch (element.type) {
      case "button": return button(element, blockId, surface, ctx, dispatch);
      case "static_select": return staticSelect(element, blockId, surface, ctx, dispatch);
      case "external_select": return externalSelect(element, blockId, surface, ctx, dispatch);
      case "conversations_select": case "channels_select":
        return conversationSelect(element, blockId, surface, ctx, dispatch);
      case "radio_buttons": return choices(element, blockId, surface, ctx, dispatch, false);
      case "checkboxes": return choices(element, blockId, surface, ctx, dispatch, true);
      case "datepicker": return datepicker(element, blockId, surface, ctx, dispatch);
      case "plain_text_input": case "number_input": case "email_text_input": case "url_text_input":
        return textInput(element, blockId, surface);
      case "overflow": return overflow(element, blockId, surface, ctx, dispatch);
      case "image": {
        const img = el("img", "bk-element-image");
        const src = imageSource(element);
        if (src) img.src = src;
        img.alt = element.alt_text || "";
        return img;
      }
      default: return el("span", "bk-unsupported", "[" + (element.type || "element") + "]");
    }
  }

  window.BlockKitElements = { element, text, imageSource, stateOf, nextId, STATEFUL };
})();
