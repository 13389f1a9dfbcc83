export * from './task.entity';
export * from './task-log.entity';
