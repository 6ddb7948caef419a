// Module resolution hooks (node:module register) that lay the apps' static files out as the
// service serves them: one /static/ tree, where each app's folder sits beside the others' (what
// collectstatic builds). There, eventstream/stream.js's "../errors/client.js" is the errors
// app's client; in the source tree the two live in different apps' static/ folders.

const APP_STATIC = /^(?<root>.*)\/(?<app>\w+)\/static\/(?<folder>\w+)\/(?<rest>.+)$/;

export async function resolve(specifier, context, next) {
  if (context.parentURL && /^\.\.?\//.test(specifier)) {
    const url = new URL(specifier, context.parentURL);
    const parts = url.href.match(APP_STATIC)?.groups;
    if (parts && parts.app !== parts.folder) {
      const { root, folder, rest } = parts;
      return { url: `${root}/${folder}/static/${folder}/${rest}`, shortCircuit: true };
    }
  }
  return next(specifier, context);
}
