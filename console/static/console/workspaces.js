/**
 * The caller's workspaces: list, create, rename and delete through `/api/workspaces/`.
 *
 * The list is kept by workspace id and changed in place, by this tab's own requests and by the
 * live events of the others (`apply`), so a rename form that is open stays open when another
 * tab renames something else. A workspace another tab deleted answers 404 to a rename or delete
 * here: the console says it is gone, with the answer's message and correlation id, removes it
 * and reloads the list.
 *
 * Every rename and delete says which version it was made from (If-Match): the version the list
 * showed when the form was opened, or the ETag the client remembers if that is newer. The list
 * keeps each workspace's version current (from the answers and the live events), so a change
 * made elsewhere meanwhile answers 412: "This workspace was changed elsewhere.", with "Reload"
 * (show the workspace as it is now, and forget the edit) and "Overwrite" or "Delete anyway"
 * (the same change again, made from the current version).
 *
 * Creating is retried by the client (its retry policy, with an Idempotency-Key, so a retry can
 * never make a second workspace) while the service says it is unavailable; the form shows each
 * refusal and counts down to the next attempt.
 */

import {
  FormFeedback,
  actionButtons,
  announce,
  clear,
  element,
  showError,
} from "./alerts.js";
import { t } from "./strings.js";

// The API's largest page: the console lists that many and says how many there are in all.
const PAGE_SIZE = 100;
// Creating rides out an outage of the database: its 503 says Retry-After: 5, and each attempt
// takes up to 2 s more (the service's pool timeout), so five attempts over at most 30 s of waiting
// outlast an outage of 20 s and more. A 429 that asks for longer is shown at once.
export const CREATE_RETRY = { attempts: 5, maxWaitSeconds: 30 };

/** The version an ETag names (`"3"`: 3); null for none, or an ETag of another kind. */
function versionOf(etag) {
  const match = /^"(\d+)"$/.exec(etag ?? "");
  return match ? Number(match[1]) : null;
}

/** Whether `workspace` is an older version of the one `known` holds (a late answer or event). */
function isOlder(workspace, known) {
  return (
    Number.isInteger(workspace.version) &&
    Number.isInteger(known.version) &&
    workspace.version < known.version
  );
}

export class WorkspacesPanel {
  /**
   * `client`: the console's ApiClient; `path`: the collection's URL (`/api/workspaces/`).
   */
  constructor(root, { client, path }) {
    this.client = client;
    this.path = path;
    this.list = root.querySelector("#workspace-list");
    this.empty = root.querySelector("#workspace-empty");
    this.count = root.querySelector("#workspace-count");
    this.alert = root.querySelector("#list-alert");
    this.template = document.getElementById("workspace-row");
    this.rows = new Map(); // workspace id -> {workspace, row}
    this.total = 0;

    const create = root.querySelector("#create-form");
    const feedback = new FormFeedback(create);
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create(create, feedback);
    });
    root.querySelector("#reload").addEventListener("click", () => {
      clear(this.alert);
      this.load();
    });
  }

  /** Fetch the list again; an error is shown above it and the list is left as it was. */
  async load() {
    let page;
    try {
      page = await this.client.get(this.path, { query: { limit: PAGE_SIZE } });
    } catch (error) {
      showError(this.alert, error, { lead: t("list_failed") });
      return;
    }
    const seen = new Set();
    for (const workspace of page.results) {
      seen.add(workspace.id);
      this.upsert(workspace);
    }
    for (const id of [...this.rows.keys()]) {
      if (!seen.has(id)) this.remove(id);
    }
    this.total = page.count;
    this.renderCount();
  }

  /** Forget everything (signing out). */
  reset() {
    this.rows.clear();
    this.list.replaceChildren();
    clear(this.alert);
    this.total = 0;
    this.renderCount();
  }

  /** A live event: `workspace.created`, `workspace.updated` or `workspace.deleted`. */
  apply(type, workspace) {
    const known = this.rows.has(workspace.id);
    if (type === "workspace.deleted") {
      if (known) {
        this.remove(workspace.id);
        this.total -= 1;
      }
    } else {
      this.upsert(workspace);
      if (!known && type === "workspace.created") this.total += 1;
    }
    this.renderCount();
  }

  /**
   * POST the form, retried by the client while the service is unavailable: one Idempotency-Key
   * for all the attempts, so the workspace is made once however many are sent. Each refusal that
   * will be retried is shown with a countdown to the next attempt (the policy's `onRetry`).
   */
  async create(form, feedback) {
    const data = new FormData(form);
    const submit = form.querySelector('button[type="submit"]');
    const body = {
      name: String(data.get("name") ?? ""),
      description: String(data.get("description") ?? ""),
    };
    const retry = {
      ...CREATE_RETRY,
      // A refusal the client retries after (the call ends with any other): shown, with the wait.
      onRetry: (error) =>
        feedback.show(error, { lead: t("create_retrying", { name: body.name }), retrying: true }),
    };
    feedback.clear();
    clear(this.alert);
    // Not aria-busy: the form's alert must be announced while the attempts go on.
    submit.disabled = true;
    try {
      // With a retry policy the client sends one Idempotency-Key on all of the call's attempts.
      const workspace = await this.client.post(this.path, body, { retry });
      feedback.clear();
      this.apply("workspace.created", workspace);
      // Emptied for the next one, unless already typed in while this one was on its way.
      for (const [name, sent] of Object.entries(body)) {
        const field = form.elements.namedItem(name);
        if (field.value === sent) field.value = "";
      }
      announce(t("created_notice", { name: workspace.name }));
    } catch (error) {
      feedback.show(error);
    } finally {
      submit.disabled = false;
    }
  }

  /** The URL of one workspace. */
  itemPath(id) {
    return `${this.path}${id}/`;
  }

  /**
   * The If-Match for a change of `entry` made from what the list shows: its version, or the
   * ETag the client remembers for it when that is newer; undefined when neither is known (the
   * client then sends none).
   */
  etagOf(entry) {
    const listed = entry.workspace.version;
    const remembered = this.client.etagFor(this.itemPath(entry.workspace.id));
    const rememberedVersion = versionOf(remembered);
    if (rememberedVersion !== null && !(listed >= rememberedVersion)) return remembered;
    return Number.isInteger(listed) ? `"${listed}"` : undefined;
  }

  // --- rows ---------------------------------------------------------------------------------

  upsert(workspace) {
    const known = this.rows.get(workspace.id);
    if (known) {
      if (isOlder(workspace, known.workspace)) return; // it has changed since
      known.workspace = workspace;
      this.fill(known.row, workspace);
      return;
    }
    const row = this.template.content.firstElementChild.cloneNode(true);
    row.id = `workspace-${workspace.id}`;
    row.dataset.id = workspace.id;
    const entry = { workspace, row };
    this.rows.set(workspace.id, entry);
    this.wire(entry);
    this.fill(row, workspace);
    // Oldest first, as the API lists them.
    const after = [...this.rows.values()].find(
      (other) => other !== entry && other.workspace.created_at > workspace.created_at,
    );
    this.list.insertBefore(row, after ? after.row : null);
  }

  remove(id) {
    const entry = this.rows.get(id);
    if (!entry) return;
    for (const alert of entry.row.querySelectorAll("[data-alert]")) clear(alert);
    entry.row.remove();
    this.rows.delete(id);
  }

  fill(row, workspace) {
    row.querySelector(".workspace-name").textContent = workspace.name;
    row.querySelector(".workspace-description").textContent = workspace.description;
    const named = { name: workspace.name };
    row.querySelector('[data-action="rename"]').setAttribute("aria-label", t("rename_label", named));
    row.querySelector('[data-action="delete"]').setAttribute("aria-label", t("delete_label", named));
  }

  renderCount() {
    const shown = this.rows.size;
    // An update of a workspace the list did not hold (made while the stream was away) adds a
    // row the count did not know of: it is counted again at the next load.
    const total = Math.max(this.total, shown);
    this.empty.hidden = shown > 0;
    this.count.textContent = total > shown ? t("count_some", { shown, total }) : `(${shown})`;
  }

  wire(entry) {
    const { row } = entry;
    const id = entry.workspace.id;
    const view = row.querySelector(".workspace-view");
    const renameForm = row.querySelector(".rename-form");
    const deleteForm = row.querySelector(".delete-form");
    const renameFeedback = new FormFeedback(renameForm);
    const deleteFeedback = new FormFeedback(deleteForm);
    const input = renameForm.elements.namedItem("name");
    const error = renameForm.querySelector('[data-error-for="name"]');
    input.id = `rename-${id}`;
    error.id = `rename-${id}-error`;
    input.setAttribute("aria-describedby", error.id);
    renameForm.querySelector("label").htmlFor = input.id;

    const close = (form, feedback) => {
      feedback.clear();
      form.hidden = true;
      view.hidden = false;
    };
    const open = (form) => {
      view.hidden = true;
      form.hidden = false;
    };

    const renameButton = row.querySelector('[data-action="rename"]');
    const deleteButton = row.querySelector('[data-action="delete"]');
    const path = this.itemPath(id);
    // The version each form's change is made from: the one shown when it was opened.
    let renameFrom;
    let deleteFrom;

    /** Reload for a form that was refused: the workspace as it is now, the form closed. */
    const reloadFor = (form, feedback, button) => async () => {
      const workspace = await this.send(entry, form, feedback, () => this.client.get(path));
      if (workspace === undefined) return;
      this.apply("workspace.updated", workspace);
      close(form, feedback);
      button.focus();
      announce(t("reloaded_notice", { name: workspace.name }));
    };

    renameButton.addEventListener("click", () => {
      input.value = entry.workspace.name;
      renameFrom = this.etagOf(entry);
      open(renameForm);
      input.select();
      input.focus();
    });
    row.querySelector('[data-action="cancel-rename"]').addEventListener("click", () => {
      close(renameForm, renameFeedback);
      row.querySelector('[data-action="rename"]').focus();
    });
    renameForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        close(renameForm, renameFeedback);
        row.querySelector('[data-action="rename"]').focus();
      }
    });
    /** PATCH `change` made from `ifMatch`; a 412 offers to reload or to overwrite. */
    const rename = async (change, ifMatch) => {
      const outcome = await this.send(
        entry,
        renameForm,
        renameFeedback,
        () => this.client.patch(path, change, { ifMatch }),
        (error) => [
          { label: t("reload"), onClick: reloadFor(renameForm, renameFeedback, renameButton) },
          { label: t("overwrite"), onClick: () => rename(change, error.currentEtag) },
        ],
      );
      if (outcome) {
        this.apply("workspace.updated", outcome);
        close(renameForm, renameFeedback);
        renameButton.focus();
        announce(t("renamed_notice", { name: outcome.name }));
      }
    };
    renameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      renameFeedback.clear();
      rename({ name: input.value }, renameFrom);
    });

    deleteButton.addEventListener("click", () => {
      const question = t("confirm_delete", { name: entry.workspace.name });
      deleteForm.querySelector(".confirm-text").textContent = question;
      deleteFrom = this.etagOf(entry);
      open(deleteForm);
      deleteForm.querySelector('button[type="submit"]').focus();
    });
    deleteForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        close(deleteForm, deleteFeedback);
        row.querySelector('[data-action="delete"]').focus();
      }
    });
    row.querySelector('[data-action="cancel-delete"]').addEventListener("click", () => {
      close(deleteForm, deleteFeedback);
      row.querySelector('[data-action="delete"]').focus();
    });
    /** DELETE made from `ifMatch`; a 412 offers to reload or to delete all the same. */
    const remove = async (ifMatch) => {
      const outcome = await this.send(
        entry,
        deleteForm,
        deleteFeedback,
        () => this.client.delete(path, { ifMatch }),
        (error) => [
          { label: t("reload"), onClick: reloadFor(deleteForm, deleteFeedback, deleteButton) },
          {
            label: t("delete_anyway"),
            className: "danger",
            onClick: () => remove(error.currentEtag),
          },
        ],
      );
      if (outcome !== undefined) {
        const { name } = entry.workspace;
        this.apply("workspace.deleted", entry.workspace);
        document.getElementById("list-title").focus();
        announce(t("deleted_notice", { name }));
      }
    };
    deleteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      deleteFeedback.clear();
      remove(deleteFrom);
    });
  }

  /**
   * Run `request` for the row's form: its answer, or undefined after an error, which is shown
   * in the form, or, for a workspace that no longer exists, above the list. A 412 (changed
   * elsewhere) is shown with the buttons `conflictActions(error)` gives, the first focused.
   * While it runs, the form's buttons are disabled; should the focus have been on one, it is
   * given to the form's first field afterwards.
   */
  async send(entry, form, feedback, request, conflictActions = null) {
    const buttons = [...form.querySelectorAll("button")];
    let refocus = false;
    clear(this.alert);
    form.setAttribute("aria-busy", "true");
    for (const button of buttons) button.disabled = true;
    try {
      return await request();
    } catch (error) {
      if (error && error.status === 404) {
        this.gone(entry, error);
      } else if (error && error.status === 412 && conflictActions) {
        const box = feedback.show(error, {
          lead: t("changed_elsewhere"),
          actions: conflictActions(error),
        });
        actionButtons(box)[0].focus();
      } else {
        feedback.show(error);
        refocus = true;
      }
      return undefined;
    } finally {
      form.removeAttribute("aria-busy");
      for (const button of buttons) {
        if (button.isConnected) button.disabled = false;
      }
      // A button that was pressed may have gone with the error it belonged to.
      if (refocus && !form.hidden && !form.contains(document.activeElement)) {
        form.querySelector("input, button")?.focus();
      }
    }
  }

  /** The workspace was deleted elsewhere: say so, drop it, and reload the list. */
  gone(entry, error) {
    this.apply("workspace.deleted", entry.workspace);
    showError(this.alert, error, {
      lead: t("deleted_elsewhere", { name: entry.workspace.name }),
    });
    document.getElementById("list-title").focus();
    this.load();
  }
}
