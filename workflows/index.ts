export { sendWebhook } from './send-webhook.workflow';
