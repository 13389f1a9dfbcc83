export { sendWebhook } from './send-webhook.workflow';
export { pruneLogs } from './prune-logs.workflow';
export { deleteMessage } from './delete-message.workflow';
export { sendAlert } from './alerts';
